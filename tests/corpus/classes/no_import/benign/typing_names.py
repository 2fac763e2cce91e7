from typing import Any

def f(socket: Any) -> Any:
    return socket

print(f(1))
