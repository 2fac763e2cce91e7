import os
open(f'C:\\Users\\{os.getlogin()}\\AppData\\Local\\Temp\\x.bat', 'w').write('x')
