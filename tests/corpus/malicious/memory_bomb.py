blocks = []
data = "A" * (10 ** 10)
blocks.append(data)
