class Job:
    def __init__(self, fn):
        self.fn = fn
    def exec(self, *args):
        return self.fn(*args)
    def eval(self):
        return "job"
jobs = [Job(sum), Job(max)]
print([j.exec([1, 2, 3]) for j in jobs], jobs[0].eval())