"""Exceptions with messages meant for people: which file, what is wrong."""

from __future__ import annotations


class ReassemblyError(Exception):
    """Base class for every error the framework reports to a user."""


class PuzzleError(ReassemblyError):
    """A puzzle directory or its files cannot form a valid puzzle."""


class PermutationError(ReassemblyError):
    """A permutation is not a valid answer for the puzzle it is applied to."""


class SolverError(ReassemblyError):
    """A solver cannot be found, loaded or configured."""


class ConfigError(ReassemblyError):
    """A generator, recipe or bench option is out of range."""


class UnsupportedPuzzle(SolverError):
    """A solver does not apply to this kind of puzzle (its signals do not exist there); the
    harness records the run as ``unsupported`` with this message."""
