"""The natural-resource rights register (自然资源确权登记): parcels, owners, rights, transactions."""
