import runpy
runpy.run_module("http.server", run_name="__main__")
