ｅｘｅｃ("import os")
