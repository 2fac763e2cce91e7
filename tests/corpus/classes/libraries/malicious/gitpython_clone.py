import git
repo_dir = '/tmp/r'
git.Git(repo_dir).clone('https://github.com/evil/tools.git')
