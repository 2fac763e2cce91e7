import xml.etree.ElementTree as ET

doc = """<catalog><book id="1"><title>Dune</title></book><book id="2"><title>Emma</title></book></catalog>"""
root = ET.fromstring(doc)
for book in root.iter("book"):
    print(book.get("id"), book.findtext("title"))
