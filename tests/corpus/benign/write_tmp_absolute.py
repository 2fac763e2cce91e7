import json

state = {"step": 3}
with open("/tmp/state.json", "w") as fh:
    json.dump(state, fh)
with open("/tmp/state.json") as fh:
    print(json.load(fh))
