"""presgend: a watch-folder daemon that turns talks and scripts into presentation videos."""

__version__ = "0.1.0"
