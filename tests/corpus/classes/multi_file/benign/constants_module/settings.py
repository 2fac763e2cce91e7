SIZE = 10
NAME = 'demo'
