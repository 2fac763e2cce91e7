import sys
from collections import defaultdict
graph = defaultdict(list)
for line in sys.stdin:
    a, b = line.split()
    graph[a].append(b)
seen = set()
def dfs(u):
    seen.add(u)
    for v in graph[u]:
        if v not in seen:
            dfs(v)
dfs("A")
print(sorted(seen))