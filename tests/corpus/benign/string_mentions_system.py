# Never call os.system('rm -rf /') in a submission!
WARNING = "Do not use os.system or subprocess.Popen in solutions"
EXAMPLES = ["os.system('ls')", "eval(input())", "__import__('os')"]

def explain():
    """Explain why 'os.system' is banned. Use subprocess.run? No: nothing at all."""
    for e in EXAMPLES:
        print("banned:", e)

explain()
print(WARNING)
