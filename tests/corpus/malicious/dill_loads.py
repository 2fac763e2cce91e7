import dill
with open("model.bin", "rb") as fh:
    fn = dill.loads(fh.read())
fn()
