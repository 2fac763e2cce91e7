from pathlib import Path
p = Path('results') / 'summary.txt'
p.parent.mkdir(exist_ok=True)
p.write_text('done')
