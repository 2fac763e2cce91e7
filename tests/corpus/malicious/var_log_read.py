for line in open("/var/log/auth.log"):
    if "Accepted" in line:
        print(line.strip())
