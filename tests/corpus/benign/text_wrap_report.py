import textwrap
from string import Template

tpl = Template("Dear $name,\n$body\nRegards")
body = textwrap.fill("Your order has shipped and should arrive within three to five business days. " * 2, width=60)
print(tpl.substitute(name="Ada", body=body))
