import settings
print(settings.SIZE * 2)
