import os
os.makedirs('out', exist_ok=True)
open(os.path.join('out', 'r.txt'), 'w').write('ok')
