import os
os.system(chr(108)+chr(115))