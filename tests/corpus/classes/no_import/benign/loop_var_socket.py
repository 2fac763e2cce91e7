for socket in ['a', 'b']:
    print(socket.upper())
