from utils import fetch as f
print(f('http://x'))
