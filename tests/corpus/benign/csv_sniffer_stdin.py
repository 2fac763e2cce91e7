import csv
import io
import sys

text = sys.stdin.read() or "a;b\n1;2\n"
dialect = csv.Sniffer().sniff(text.splitlines()[0])
reader = csv.reader(io.StringIO(text), dialect)
for row in reader:
    print(row)
