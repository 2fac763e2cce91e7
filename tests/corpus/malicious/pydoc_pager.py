import pydoc
pydoc.pager("hello")
