exec("exec(\"import os; os.system('whoami')\")")
