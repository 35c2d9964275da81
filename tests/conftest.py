"""Test-session settings: single-threaded BLAS.

The tests multiply thousands of small matrices; on a two-core machine a
second OpenBLAS thread only adds waits (stalls of ~4 ms a call were seen under
load). Set before NumPy is first imported; subprocesses inherit it.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
