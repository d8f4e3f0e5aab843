"""presgend: a watch-folder daemon that turns talks and scripts into presentation videos."""

import os

# One BLAS thread per process, set before numpy loads. OpenBLAS's threaded kernels,
# called from several threads at once (whisper's feature extractor beside face and
# loudness analysis), can spin forever in `inner_thread` (numpy #17752, OpenBLAS #937 and
# #660): one job in three hung that way. presgend's matrices are small, so the threads
# bought almost nothing. `hardware.limit_blas` covers a numpy that was loaded earlier.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
