import socket, logging
logging.warning('host %s', socket.getfqdn())
