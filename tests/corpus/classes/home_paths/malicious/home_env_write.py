import os
home = os.environ.get('HOME')
with open(home + '/.profile', 'a') as f:
    f.write('export X=1')
