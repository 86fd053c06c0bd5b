"""dawroute: keeps the right audio device as the DAW's output."""

__version__ = "0.1.0"
