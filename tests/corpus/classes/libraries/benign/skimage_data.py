from skimage import data, filters
img = data.camera()
print(filters.sobel(img).mean())
