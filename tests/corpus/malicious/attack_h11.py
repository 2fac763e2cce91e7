with open('/sys/class/net/eth0/address') as f:
    print(f.read())