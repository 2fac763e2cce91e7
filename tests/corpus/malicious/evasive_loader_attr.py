ld = __loader__
print(ld.get_source.__globals__)
