from lib import *
steal()
