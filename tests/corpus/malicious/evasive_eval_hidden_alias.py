run_it = eval
run_it("__import__('os').system('id')")
