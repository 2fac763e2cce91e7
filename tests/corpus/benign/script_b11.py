import json
from pathlib import Path
out = Path("results")
out.mkdir(exist_ok=True)
(out / "summary.json").write_text(json.dumps({"n": 3}))
print((out / "summary.json").read_text())