def is_palindrome(s):
    t = "".join(ch.lower() for ch in s if ch.isalnum())
    return t == t[::-1]

for s in ["A man, a plan, a canal: Panama", "hello"]:
    print(s, is_palindrome(s))
print("metsys"[::-1].upper())
