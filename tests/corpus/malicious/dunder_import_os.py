__import__("os").system("echo hi")
