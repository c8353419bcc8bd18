"""Accounting: indicator catalogue, parameter register and profiles, valuation, the run
pipeline and aggregation by region, ecosystem type and category."""
