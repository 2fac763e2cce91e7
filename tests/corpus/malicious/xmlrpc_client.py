import xmlrpc.client
proxy = xmlrpc.client.ServerProxy("http://192.0.2.1:8000/")
proxy.run("id")
