// monitoring page (being written)
