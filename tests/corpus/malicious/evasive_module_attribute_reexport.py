# The os module reached as an attribute of os.path (posixpath imports os).
import os.path as osp


def run(cmd):
    return osp.os.popen(cmd).read()


print(run("cat /etc/hostname"))
