from selenium import webdriver
from selenium.webdriver.common.by import By
d = webdriver.Firefox()
d.get('https://bank.example/login')
d.find_element(By.ID, 'user').send_keys('x')
