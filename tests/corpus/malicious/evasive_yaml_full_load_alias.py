from yaml import load as parse
print(parse(open("cfg.yml")))
