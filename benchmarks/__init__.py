"""`make bench` and `make soak`: run as `python -m benchmarks.run` and `python -m benchmarks.soak`
from the repository root (a regular package, so a `benchmarks` some dependency installs
does not shadow it)."""
