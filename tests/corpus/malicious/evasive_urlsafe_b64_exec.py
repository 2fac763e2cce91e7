import base64
code = base64.urlsafe_b64decode("cHJpbnQoMSk=")
exec(code)
