def caesar(s, k):
    out = []
    for ch in s:
        if ch.isalpha():
            base = ord("a") if ch.islower() else ord("A")
            out.append(chr((ord(ch) - base + k) % 26 + base))
        else:
            out.append(ch)
    return "".join(out)

msg = caesar("Hello, World", 3)
print(msg, caesar(msg, -3))
print("".join(chr(c) for c in [72, 105]))
