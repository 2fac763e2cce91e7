import re
pattern = re.compile(r"(?P<key>\w+)=(?P<val>[^;]+)")
for m in pattern.finditer("a=1;b=two;c=3"):
    print(m["key"], m["val"])