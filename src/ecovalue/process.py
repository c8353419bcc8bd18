"""How an ``ecovalue`` command's process ends: without a garbage collection over everything.

At interpreter shutdown CPython clears every module and runs the cyclic garbage collector
over every object still alive — after an account, numba's, llvmlite's and pandas' object
graphs: ≈ 0.3 s at the end of every command (measured: 0.38 s from the last ``atexit``
handler to the process's end, 0.05 s with the heap frozen). A process that is ending has no
use for that collection: :func:`freeze_heap_at_exit` registers ``gc.freeze()`` as the first
``atexit`` handler, so it runs last, after every other handler (dask clusters closed,
``weakref.finalize`` callbacks, temporary folders removed); objects are still released by
reference counting as the modules are cleared, files are closed and flushed, and only the
final collections skip the frozen objects (whose memory the operating system takes back).

And how it loads numba (:func:`lean_numba`): when numba first types a function it imports its
typing registries, among them two optional supports the engine's kernels never use — BLAS
through ``scipy.linalg.cython_blas`` (numba checks at import whether ``np.dot`` of small
vectors may call it: ≈ 0.2 s of importing scipy.linalg) and cffi (an ``FFI()`` made at
import: ≈ 0.1 s). A command's process loads the registries with both imports failing, so it
starts ≈ 0.25 s sooner (the streamed engine's start-up is on the critical path of a rerun).
What changes in that process: numba's ``np.correlate`` and ``np.convolve`` use numba's own
inner-product loop instead of BLAS (``np.dot`` and ``np.linalg`` still import scipy's BLAS
when first compiled), and numba functions cannot call cffi functions. A library user's process, which may
need either, is left as it is.
"""

from __future__ import annotations

import atexit
import gc
import sys

_registered = False


def freeze_heap_at_exit() -> None:
    """Register ``gc.freeze`` to run at exit after every other ``atexit`` handler (once)."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True


#: Set by :func:`lean_numba`; read by :func:`ecovalue.raster.pixelwise.load_kernels`.
LEAN_NUMBA = False


def lean_numba() -> None:
    """Load numba, when first used, without its scipy-BLAS and cffi support (module doc).
    Imports nothing itself (a command that never uses numba does not load it)."""
    global LEAN_NUMBA
    if "numba.np.arraymath" not in sys.modules:  # else numba's registries are loaded already
        LEAN_NUMBA = True
