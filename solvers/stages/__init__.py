"""Solver stages as small functions over plain tensors: pairing, seed, ranking, repair."""
