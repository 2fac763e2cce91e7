from PIL import ImageGrab
img = ImageGrab.grab()
img.save("screen.png")
