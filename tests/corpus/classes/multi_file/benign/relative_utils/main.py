from .utils import slugify
print(slugify('Hello World'))
