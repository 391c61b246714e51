"""The command line: :data:`app` (typer) and :func:`main`."""

from __future__ import annotations

from reassembly.cli.app import app, main

__all__ = ["app", "main"]
