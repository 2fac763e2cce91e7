from string import Template
import datetime
t = Template("Report for $who on $when: $n items")
print(t.safe_substitute(who="team", when=datetime.date.today(), n=42))
print("os.system('rm -rf /') is what we never run".upper())