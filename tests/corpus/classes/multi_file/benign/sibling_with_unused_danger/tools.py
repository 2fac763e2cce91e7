import os

def add(a, b):
    return a + b

def danger():
    os.system('id')
