import gc
for obj in gc.get_objects():
    if isinstance(obj, dict) and "system" in obj:
        obj["system"]("id")
