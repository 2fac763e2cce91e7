import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
X = torch.randn(64, 4)
y = X.sum(dim=1, keepdim=True)
for epoch in range(20):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(X), y)
    loss.backward()
    opt.step()
model.eval()
torch.save(model.state_dict(), "model.pt")
state = torch.load("model.pt", weights_only=True)
print(float(loss), len(state))
