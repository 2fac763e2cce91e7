import importlib
m = importlib.import_module(''.join(reversed('ssecorpbus')))
getattr(m, 'check_output')(['id'])