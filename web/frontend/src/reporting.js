// reporting page (being written)
