from pathlib import Path
(Path('/tmp') / 'cache.txt').write_text('x')
