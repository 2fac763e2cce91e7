import os
getattr(os, "system")("whoami")
