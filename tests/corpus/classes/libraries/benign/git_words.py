class Git:
    def clone(self, url):
        return url

print(Git().clone('a'))
