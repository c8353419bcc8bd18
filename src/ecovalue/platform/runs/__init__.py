"""Accounting runs stored in the database and their publication as official results."""
