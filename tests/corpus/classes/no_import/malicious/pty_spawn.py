pty.spawn('/bin/sh')
