import csv, json, sys
from pathlib import Path
src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("input.csv")
rows = list(csv.DictReader(src.open()))
Path("output.json").write_text(json.dumps(rows, indent=2))
print(f"converted {len(rows)} rows")