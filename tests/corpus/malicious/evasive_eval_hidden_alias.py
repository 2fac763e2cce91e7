run_it = eval
run_it("2+2")
