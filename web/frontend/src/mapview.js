// mapview page (being written)
