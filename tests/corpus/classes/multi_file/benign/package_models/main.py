from models.shapes import Circle
print(Circle(2).area())
