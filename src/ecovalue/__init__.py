"""ecovalue: Gross Ecosystem Product (GEP) accounting and the ecological-product
value-realization platform (生态产品价值实现机制).

The package is layered (see ``docs/design.md``): ``raster`` reads and writes grids,
``models`` computes physical quantities per pixel, ``accounting`` values and aggregates
them, ``datasets`` loads and validates inputs, ``reports`` renders results and ``cli``
is the command line.
"""

__version__ = "0.1.0"
