from pytransform import pyarmor_runtime
pyarmor_runtime()
__pyarmor__(__name__, __file__, b'PYARMOR\x00\x00\x03\x08\x00U\r\r\n\x04\x00\x00\x00\x00\x00\x00\x00')
