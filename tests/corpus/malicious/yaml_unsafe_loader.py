import yaml
cfg = yaml.load(open("config.yml"), Loader=yaml.Loader)
print(cfg)
