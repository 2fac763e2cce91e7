from collections import Counter, OrderedDict

words = ["listen", "silent", "enlist", "google", "gooegl", "cat"]
groups = OrderedDict()
for w in words:
    groups.setdefault("".join(sorted(w)), []).append(w)
for key, members in groups.items():
    if len(members) > 1:
        print(members)
print(Counter("mississippi").most_common(2))
