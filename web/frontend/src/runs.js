// runs page (being written)
