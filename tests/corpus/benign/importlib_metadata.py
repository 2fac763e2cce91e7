from importlib import metadata

for pkg in ["numpy", "pandas"]:
    try:
        print(pkg, metadata.version(pkg))
    except metadata.PackageNotFoundError:
        print(pkg, "not installed")
