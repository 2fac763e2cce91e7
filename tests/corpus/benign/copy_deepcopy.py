import copy

config = {"layers": [64, 32], "opt": {"lr": 0.01}}
trial = copy.deepcopy(config)
trial["opt"]["lr"] = 0.1
print(config["opt"]["lr"], trial["opt"]["lr"])
