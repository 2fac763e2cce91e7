import telnetlib
tn = telnetlib.Telnet("192.0.2.10", 23)
tn.write(b"root\n")
