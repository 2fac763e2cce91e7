import os
vars(os)["popen"]("id").read()
