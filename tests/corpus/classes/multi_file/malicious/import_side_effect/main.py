import config
print(config.NAME)
