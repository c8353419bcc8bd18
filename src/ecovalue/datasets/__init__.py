"""Datasets: manifest, loading and validation, and the demo city."""
