REGISTRY = {}

def register(name):
    def deco(cls):
        REGISTRY[name] = cls
        return cls
    return deco

@register("upper")
class Upper:
    def apply(self, s):
        return s.upper()

@register("reverse")
class Reverse:
    def apply(self, s):
        return s[::-1]

for name in ["upper", "reverse"]:
    print(name, REGISTRY[name]().apply("hello"))
