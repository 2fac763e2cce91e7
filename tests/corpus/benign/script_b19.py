import gzip, json
with gzip.open("events.json.gz", "rt") as fh:
    events = [json.loads(line) for line in fh]
print(len(events))