from email import message_from_string

raw = "From: a@example.com\nTo: b@example.com\nSubject: hi\n\nbody text\n"
msg = message_from_string(raw)
print(msg["Subject"], msg.get_payload().strip())
