import webbrowser
webbrowser.open("file:///etc/passwd")
