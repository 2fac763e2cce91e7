import re
import sys
from collections import Counter

text = sys.stdin.read().lower()
words = re.findall(r"[a-z']+", text)
for word, count in Counter(words).most_common(10):
    print(word, count)
