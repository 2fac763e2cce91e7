class Requests:
    def get(self, u):
        return u

requests = Requests()
print(requests.get('u'))
