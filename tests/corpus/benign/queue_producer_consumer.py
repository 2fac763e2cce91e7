import queue
import threading

q = queue.Queue()
results = []

def consumer():
    while True:
        item = q.get()
        if item is None:
            break
        results.append(item * item)
        q.task_done()

t = threading.Thread(target=consumer)
t.start()
for i in range(5):
    q.put(i)
q.put(None)
t.join()
print(results)
