import os, logging
logging.basicConfig(level=logging.INFO)
logging.info('started by %s', os.environ.get('USER', '?'))
