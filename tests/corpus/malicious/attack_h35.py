import pathlib
for p in pathlib.Path("/home").iterdir():
    print(p)