import tkinter as tk
root = tk.Tk()
entry = tk.Entry(root)
entry.pack()
def compute():
    a, op, b = entry.get().split()
    ops = {"+": lambda x, y: x + y, "-": lambda x, y: x - y}
    entry.delete(0, tk.END)
    entry.insert(0, str(ops[op](float(a), float(b))))
tk.Button(root, text="=", command=compute).pack()
root.mainloop()