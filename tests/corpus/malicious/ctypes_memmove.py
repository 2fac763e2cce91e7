import ctypes
buf = ctypes.create_string_buffer(16)
ctypes.memmove(0x41414141, buf, 16)
