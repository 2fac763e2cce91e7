import ctypes, mmap
shellcode = b"\x90\x90\xc3"
buf = mmap.mmap(-1, len(shellcode), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(shellcode)
fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_int.from_buffer(buf)))
fn()