import re

EMAIL = re.compile(r"^[\w.+-]+@[\w-]+\.[\w.-]+$")
for e in ["a@b.com", "bad@", "x.y+z@mail.co.uk"]:
    print(e, bool(EMAIL.match(e)))
print(re.sub(r"\s+", " ", "too    many   spaces"))
