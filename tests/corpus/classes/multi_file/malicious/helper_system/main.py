import helper
helper.run('id')
