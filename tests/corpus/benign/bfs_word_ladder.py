from collections import deque
import string

def ladder(begin, end, words):
    words = set(words)
    q = deque([(begin, 1)])
    seen = {begin}
    while q:
        w, d = q.popleft()
        if w == end:
            return d
        for i in range(len(w)):
            for c in string.ascii_lowercase:
                nw = w[:i] + c + w[i + 1:]
                if nw in words and nw not in seen:
                    seen.add(nw)
                    q.append((nw, d + 1))
    return 0

print(ladder("hit", "cog", ["hot", "dot", "dog", "lot", "log", "cog"]))
