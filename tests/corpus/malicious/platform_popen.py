import platform
print(platform.popen("id").read())
