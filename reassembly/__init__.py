"""reassembly: benchmark algorithms that put a dropped residual network back together."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
