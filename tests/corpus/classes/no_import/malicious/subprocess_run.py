subprocess.run(['ls', '/'])
