import yaml
yaml.load(open('x.yaml'), Loader=yaml.UnsafeLoader)