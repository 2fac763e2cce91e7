from pathlib import Path
from PIL import Image

src = Path("images")
dst = Path("thumbs")
dst.mkdir(exist_ok=True)
for p in src.glob("*.jpg"):
    with Image.open(p) as im:
        im.thumbnail((128, 128))
        im.save(dst / p.name)
        print("wrote", dst / p.name)
