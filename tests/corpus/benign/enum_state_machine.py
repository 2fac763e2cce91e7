from enum import Enum, auto

class State(Enum):
    IDLE = auto()
    RUNNING = auto()
    DONE = auto()

TRANSITIONS = {State.IDLE: State.RUNNING, State.RUNNING: State.DONE}

def step(s):
    return TRANSITIONS.get(s, s)

s = State.IDLE
while s is not State.DONE:
    print(s.name)
    s = step(s)
print(s.name)
