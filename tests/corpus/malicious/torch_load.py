import torch
state = torch.load("checkpoint.pt")
print(state.keys())
