"""rocket-fft's ``r2c`` and ``c2r`` (DUCC0 FFTs callable from Numba), imported without SciPy's FFT.

Importing ``rocket_fft`` also registers Numba overloads for ``scipy.fft`` when SciPy is
installed, which imports ``scipy.fft``: about a third of a second, the largest single import of
a ``cak render``. The engine calls only the low-level ``r2c``/``c2r``, so unless ``scipy.fft``
or ``rocket_fft`` is already imported, ``rocket_fft`` is imported with ``scipy.fft`` marked
absent for that moment; ``import scipy.fft`` works as usual afterwards (only rocket-fft's Numba
versions of ``scipy.fft`` are then not registered in this process).
"""
from __future__ import annotations

import sys


def _import_rocket_fft():
    if "rocket_fft" in sys.modules or "scipy.fft" in sys.modules:
        from rocket_fft import c2r, r2c

        return c2r, r2c
    sys.modules["scipy.fft"] = None  # makes rocket_fft's `import scipy.fft` raise ImportError
    try:
        from rocket_fft import c2r, r2c
    finally:
        del sys.modules["scipy.fft"]
    return c2r, r2c


c2r, r2c = _import_rocket_fft()

__all__ = ["c2r", "r2c"]
