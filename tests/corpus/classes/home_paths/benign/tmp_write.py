import tempfile, os
d = tempfile.mkdtemp()
open(os.path.join(d, 'x'), 'w').write('1')
