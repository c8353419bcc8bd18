// register page (being written)
