import subprocess
import sys

result = subprocess.run([sys.executable, "-c", "import math; print(math.factorial(10))"], capture_output=True, text=True)
print(result.stdout.strip())
