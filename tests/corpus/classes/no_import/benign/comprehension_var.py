print([pickle * 2 for pickle in range(3)])
