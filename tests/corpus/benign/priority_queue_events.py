import heapq
import itertools

counter = itertools.count()
events = []
for t, name in [(5, "b"), (1, "a"), (5, "c")]:
    heapq.heappush(events, (t, next(counter), name))
while events:
    t, _, name = heapq.heappop(events)
    print(t, name)
