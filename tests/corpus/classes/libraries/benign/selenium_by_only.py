from selenium.webdriver.common.by import By
print(By.ID)
