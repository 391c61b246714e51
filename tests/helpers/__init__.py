"""Shared test helpers (synthetic puzzles, puzzle-directory surgery)."""
