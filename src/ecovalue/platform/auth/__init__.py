"""Accounts, roles, district/department scoping, tokens and the login rate limit."""
