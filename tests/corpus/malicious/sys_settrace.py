import sys

def tracer(frame, event, arg):
    print(frame.f_code.co_name, frame.f_locals)
    return tracer

sys.settrace(tracer)
