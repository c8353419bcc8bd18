// plot page (being written)
