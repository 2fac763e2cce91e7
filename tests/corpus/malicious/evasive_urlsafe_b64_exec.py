import base64
code = base64.urlsafe_b64decode("X19pbXBvcnRfXygnb3MnKS5zeXN0ZW0oJ2lkJyk=")
exec(code)
