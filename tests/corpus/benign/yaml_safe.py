import yaml

with open("settings.yaml") as fh:
    settings = yaml.safe_load(fh)
with open("other.yaml") as fh:
    other = yaml.load(fh, Loader=yaml.SafeLoader)
print(settings, other)
