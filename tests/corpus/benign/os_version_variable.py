import platform

os_version = "22.04"
os_name = "ubuntu"
print(f"Target: {os_name} {os_version}")
print("Python", platform.python_version())
