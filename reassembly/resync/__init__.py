"""Neuron re-synchronisation ("Find the Lady"): a reference network and a copy whose hidden units
are permuted in every layer (and perhaps perturbed after); the answer is every layer's permutation.

Networks are flat state dicts plus *unit groups* (:mod:`reassembly.resync.units`): which tensors'
axes index each layer's permutable units. That view is all a solver needs; it fits the synthetic
families' hidden units and real transformers' layers (:func:`reassembly.resync.network.block_groups`):
their MLP units and attention heads (a head is a unit spanning ``head_dim`` rows; under grouped
attention the query heads form a group *within* the key-value heads').
"""
