import string
alphabet = string.ascii_lowercase
shift = 13
table = str.maketrans(alphabet, alphabet[shift:] + alphabet[:shift])
print("hello".translate(table))