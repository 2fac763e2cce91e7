class Model:
    def __init__(self):
        self.training = True
    def eval(self):
        self.training = False
        return self
    def train(self, mode=True):
        self.training = mode
        return self

m = Model()
m.eval()
print("training:", m.training)
