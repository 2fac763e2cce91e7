words = input().split() if False else ["stressed", "drawer", "level"]
for w in words:
    r = w[::-1]
    print(w, "->", r, "(palindrome)" if r == w else "")
print("".join(reversed("dlrow olleh")))
