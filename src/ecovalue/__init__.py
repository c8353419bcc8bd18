"""ecovalue: Gross Ecosystem Product (GEP) accounting and the ecological-product
value-realization platform (生态产品价值实现机制).

The package is layered (see ``docs/design.md``): ``raster`` reads and writes grids,
``models`` computes physical quantities per pixel, ``accounting`` values and aggregates
them, ``datasets`` loads and validates inputs, ``reports`` renders results and ``cli``
is the command line.
"""

__version__ = "0.1.0"

import os as _os

# The engine runs its own threads (one block each) and numba kernels, and calls no BLAS routine
# that a thread pool speeds up; OpenBLAS's pool (numpy's and scipy's each start one thread per
# core) busy-waits after starting and after each call, taking the cores from the blocks. Set as
# dask.distributed's nanny does for its workers; an explicit setting in the environment wins.
# It takes effect for a BLAS library loaded after this import (scipy's, loaded by numba, always).
for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_name, "1")
del _name
