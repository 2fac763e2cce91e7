import re
text = open("notes.md").read()
headers = re.findall(r"^#+ (.*)$", text, re.M)
print("\n".join(headers))