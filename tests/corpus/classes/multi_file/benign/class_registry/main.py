from registry import register, REG

@register
class A:
    pass

print(REG)
