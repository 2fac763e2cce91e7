import subprocess
object.__getattribute__(subprocess, "run")(["id"])
