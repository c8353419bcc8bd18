"""Background jobs: a queue in the database, worked off by ``ecovalue worker`` processes."""
