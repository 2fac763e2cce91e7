class Pipeline:
    """A data pipeline; popen/system/exec here are just method names."""

    def __init__(self, steps):
        self.steps = steps

    def popen(self):
        return iter(self.steps)

    def system(self, x):
        for step in self.popen():
            x = step(x)
        return x

    def execute(self, xs):
        return [self.system(x) for x in xs]

p = Pipeline([lambda v: v + 1, lambda v: v * 10])
print(p.execute([1, 2, 3]))
