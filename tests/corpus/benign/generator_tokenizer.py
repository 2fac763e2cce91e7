def tokens(text):
    word = ""
    for ch in text:
        if ch.isalnum():
            word += ch
        elif word:
            yield word
            word = ""
    if word:
        yield word
print(list(tokens("exec system eval popen are just words here")))