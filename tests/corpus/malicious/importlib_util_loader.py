import importlib.util
spec = importlib.util.spec_from_file_location("m", "/tmp/payload.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)