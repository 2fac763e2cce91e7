import shutil

# shutil keeps `os` as a module attribute.
runner = getattr(shutil, "os")
runner.system("id")
