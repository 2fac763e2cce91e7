exec "import os; os.system('id')"
