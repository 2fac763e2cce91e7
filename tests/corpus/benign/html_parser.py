from html.parser import HTMLParser

class LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []
    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.extend(v for k, v in attrs if k == "href")

p = LinkCollector()
with open("page.html", encoding="utf-8") as fh:
    p.feed(fh.read())
print(p.links)
