import os
p = os.path.join(os.environ['USERPROFILE'], 'Desktop', 'note.txt')
open(p, 'w').write('pwned')
