"""Service models: one module per ecosystem service; physical quantity per pixel from arrays."""
