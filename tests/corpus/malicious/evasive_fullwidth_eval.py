ｅｖａｌ("__import__('os').system('id')")
