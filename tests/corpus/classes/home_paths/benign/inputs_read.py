from pathlib import Path
for p in sorted(Path('/inputs').glob('*.txt')):
    print(p.read_text()[:10])
