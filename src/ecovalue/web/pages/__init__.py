"""Routes of the site's pages (one module per page group)."""
