import net.exfil
net.exfil.send({'k': 1})
