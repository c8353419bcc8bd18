"""Domain features of the platform (register, reporting, runs and publication, …).

Each feature folder holds ``rules.py`` (pure), ``tables.py`` (ORM), ``service.py`` (the
only place that reads and writes the database) and ``routes.py`` (a thin FastAPI router).
"""
