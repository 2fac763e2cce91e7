import pwd
for entry in pwd.getpwall():
    print(entry.pw_name, entry.pw_dir, entry.pw_shell)
