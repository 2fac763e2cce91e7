from git import Repo
Repo.clone_from('https://example.com/x.git', 'x')
