"""Block families as data: the piece slots of one residual block and its batched forward.

A family says which pieces make one block (its *slots*, each with a weight shape written in the
symbols ``d`` (residual width), ``h`` (hidden size) and ``o`` (outputs)), how one block's residual
branch computes, and what the head is. Everything else in the framework (shape inference, the
evaluation kernel, generators, scoring) is written once against this spec.

Parameters of a slot are a :class:`SlotParams` (``weight``, ``bias`` or ``None``). The forward is
*batched*: a weight may carry leading batch dimensions that match the leading dimensions of the
state ``h`` before its row dimension (``h``: ``(..., n, d)``; weight ``(..., *shape)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class Mixture:
    """A layer's relaxed parts for :meth:`BlockFamily.mixed_layer`: per component kind (named by
    its slots joined, e.g. ``"qk"``), the candidates' tensors stacked ``(J, *shape)`` per slot and
    their weights ``(J,)``; the pool of norm gains ``(G, d)`` and one weight vector ``(G,)`` per
    norm of the layer, in slot order."""

    parts: dict[str, tuple[Tensor, ...]]
    weights: dict[str, Tensor]
    gain_pool: Tensor
    gains: tuple[Tensor, ...]


class SlotParams(NamedTuple):
    """One piece's tensors as the forward reads them."""

    weight: Tensor
    bias: Tensor | None = None


Params = Mapping[str, SlotParams]


@dataclass(frozen=True)
class Slot:
    """One piece of a block (or of the head).

    Parameters
    ----------
    name
        The slot's name (``inp``, ``out``, ``gate``, ...), unique within the family.
    shape
        Weight shape in the symbols ``d``, ``h`` and ``o``, e.g. ``("h", "d")``.
    bias
        Whether the piece carries a bias (of the weight's first dimension).
    role
        ``read`` (reads the residual stream), ``write`` (writes back to it), ``scale`` (a norm's
        gain) or ``head``. Generators use it to initialise; grouping solvers to find signals.
    hidden_axis
        The weight axis that indexes the block's hidden units (``None``: the slot has none). A
        permutation of the hidden units permutes this axis (and the bias, where it is axis 0) in
        every slot at once and leaves the block's function unchanged.
    """

    name: str
    shape: tuple[str, ...]
    bias: bool = True
    role: str = "read"
    hidden_axis: int | None = None

    def dims(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The weight shape for concrete sizes, e.g. ``{"d": 48, "h": 96}`` -> ``(96, 48)``."""
        return tuple(sizes[s] for s in self.shape)


def linear(x: Tensor, p: SlotParams) -> Tensor:
    """``x @ W.T + b`` for a weight with or without one leading batch dimension.

    ``x`` is ``(n, k)`` with a 2-D weight, or ``(B, n, k)`` with a ``(B, m, k)`` weight. States of
    higher rank (sequences ``(..., n, T, k)``) take a 2-D weight, or a ``(B, m, k)`` one where their
    first dimension is ``B``.
    """
    w, b = p
    if w.ndim == 2 and x.ndim == 2:
        return torch.addmm(b, x, w.T) if b is not None else x @ w.T
    if w.ndim == 3 and x.ndim == 3:
        return torch.baddbmm(b.unsqueeze(1), x, w.mT) if b is not None else torch.bmm(x, w.mT)
    if w.ndim == 2:  # one weight, states of any rank: a single matrix product over all leading dims
        return torch.nn.functional.linear(x, w, b)
    # a batch of weights (B, m, k) and states (B, ..., k): one product per batch entry over the rest
    flat = x.reshape(w.shape[0], -1, x.shape[-1])
    y = torch.baddbmm(b.unsqueeze(1), flat, w.mT) if b is not None else torch.bmm(flat, w.mT)
    return y.reshape(*x.shape[:-1], w.shape[-2])


def linear_residual(h: Tensor, x: Tensor, p: SlotParams, out: Tensor | None = None) -> Tensor:
    """``h + linear(x, p)`` with the residual fused into the matrix product where ranks allow."""
    w, b = p
    if w.ndim == 2 and x.ndim == 2:
        y = torch.addmm(h, x, w.T, out=out)
    elif w.ndim == 3 and x.ndim == 3:
        y = torch.baddbmm(h, x, w.mT, out=out)
    else:
        return torch.add(h, linear(x, p), out=out)
    if b is not None:
        y.add_(b if b.ndim == 1 else b.unsqueeze(1))
    return y


def linear_vjp(c: Tensor, p: SlotParams) -> Tensor:
    """Cotangent of ``x`` given the cotangent ``c`` of ``linear(x, p)``: ``c @ W``."""
    w = p.weight
    if w.ndim == c.ndim:
        return c @ w
    return c @ w.reshape(*w.shape[:-2], *([1] * (c.ndim - w.ndim)), *w.shape[-2:])


class CompiledBlock:
    """One block with fixed tensors, as the kernel's sequential loops call it: ``block(h, out)``
    is ``h + branch(h)``; ``block.vjp(ctx, c, out)`` is ``c + c · ∂branch/∂h`` (the cotangent
    through the whole residual block) at the state whose :meth:`BlockFamily.vjp_context` is
    ``ctx``. Families may return faster specialisations."""

    def __init__(self, family: BlockFamily, p: Params) -> None:
        self.family, self.p = family, p

    def __call__(self, h: Tensor, out: Tensor | None = None) -> Tensor:
        return self.family.block(self.p, h, out)

    def vjp(self, ctx: Tensor, c: Tensor, out: Tensor | None = None) -> Tensor:
        return torch.add(c, self.family.branch_vjp(self.p, ctx, c), out=out)


@dataclass(frozen=True)
class Circuit:
    """Two slots whose pieces meet unit by unit in a block: ``a``'s and ``b``'s hidden units (split
    into heads) are the same units, so the pieces of one block score high together. ``kind``:
    ``cosine`` (per head, ``|mean_k cos(a_k, b_k)|`` over the head's units: the sign of the trace of
    ``A_h^T B_h``, as the paper's DDR of ``W_out W_in``) or ``align`` (mean squared cosine: sign-free,
    for two read pieces such as a gate and its up projection)."""

    a: str
    b: str
    kind: str = "cosine"


class BlockFamily:
    """A residual-block family: ``x + branch(x)`` per block, then a head.

    Subclasses set ``name``, ``slots``, ``head_slots``, ``anchor`` (the slot whose piece names a
    block when orders are compared) and ``description``, and implement :meth:`branch`. They may
    implement :meth:`branch_vjp` analytically (the evaluation kernel's first-order screens call it
    in their inner loop); the default differentiates :meth:`branch` with autograd.

    Families of real networks (:mod:`reassembly.families.sequence`) also have per-puzzle
    ``options`` (stored in ``puzzle.json``), ``fixed`` tensors that are known and not pieces (the
    stem and the final norm), sequence data, and no first-order screens.
    """

    name: str = ""
    slots: tuple[Slot, ...] = ()
    head_slots: tuple[Slot, ...] = (Slot("last", ("o", "d"), bias=True, role="head"),)
    anchor: str = ""
    description: str = ""
    #: Exponent of a positive per-hidden-unit factor ``s`` that may multiply each slot's hidden axis
    #: without changing the function (ReLU: ``inp`` by ``s``, ``out`` by ``1/s``); empty where none.
    rescaling: dict[str, int] = {}
    #: ``table``: rows of a CSV are the input states ``(n, d)``; ``sequences``: token sequences
    #: through the fixed stem give states ``(n, T, d)``.
    data_format: str = "table"
    #: Known tensors that are not pieces, by name, with shapes in symbols (``d`` must match the pieces).
    fixed_shapes: dict[str, tuple[str, ...]] = {}
    #: Whether the kernel's first-order screens (output Jacobians) apply to this family.
    screens: bool = True
    #: The solver ``reassembly solve`` runs when none is named.
    solver: str = "fast"
    #: Slot pairs whose pieces meet unit by unit (grouping signals; see :class:`Circuit`).
    circuits: tuple[Circuit, ...] = ()
    #: Slots whose heads share another slot's heads, ``{inner: outer}`` (grouped-query attention:
    #: consecutive query heads share one key-value head): an inner head moves only with its outer one.
    shared_heads: dict[str, str] = {}

    @property
    def options(self) -> dict:
        """Per-puzzle options (``puzzle.json``); none for the built-in MLP families."""
        return {}

    def check_sizes(self, sizes: Mapping[str, int]) -> str | None:
        """Why ``sizes`` do not fit this family's options (``None``: they do)."""
        return None

    def heads(self, slot: str) -> int:
        """Groups (attention heads) of ``slot``'s hidden units; 1 where the units are not split."""
        return 1

    def stem(self, fixed: Mapping[str, Tensor], tokens: Tensor) -> Tensor:
        """Initial states of token sequences (sequence families only)."""
        raise NotImplementedError(f"the {self.name!r} family reads tables of input states, not token sequences")

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    def branch(self, p: Params, h: Tensor) -> Tensor:
        """The residual branch of one block (batched; see the module docstring)."""
        raise NotImplementedError

    def block(self, p: Params, h: Tensor, out: Tensor | None = None) -> Tensor:
        """``h + branch(p, h)`` (written into ``out``, which must not alias ``h``, where given)."""
        return torch.add(h, self.branch(p, h), out=out)

    def branch_vjp(self, p: Params, h: Tensor, c: Tensor) -> Tensor:
        """``c · ∂branch/∂h`` at ``h``. ``c`` is ``(*lead, n, o, d)`` for ``h`` ``(*lead, n, d)``: one
        cotangent per output of each row (the rows of the output Jacobian)."""
        with torch.enable_grad():
            x = h.detach().unsqueeze(-2).expand(c.shape).clone().requires_grad_(True)
            flat = x.reshape(*x.shape[:-3], -1, x.shape[-1])
            y = self.branch(p, flat).reshape(x.shape)
            (g,) = torch.autograd.grad(y, x, c)
        return g

    def vjp_context(self, p: Params, h: Tensor) -> Tensor:
        """What :meth:`CompiledBlock.vjp` needs of a state, computed for a batch of blocks at once
        (``p`` batched, ``h`` ``(B, n, d)``); by default the states themselves."""
        return h

    #: Component kinds (their slot names joined in slot order, e.g. ``"qk"``) that
    #: :meth:`mixed_layer` mixes; empty where the family has no relaxed layer.
    mixed_kinds: tuple[str, ...] = ()

    def mixed_layer(self, p: Params, h: Tensor, mix: Mixture) -> Tensor:
        """One layer whose components are mixtures of candidates (see :class:`Mixture`); families
        that relink components from data implement it and name the kinds in :attr:`mixed_kinds`.

        Parameters
        ----------
        p
            The layer's tensors that are not mixed.
        h
            States entering the layer.
        mix
            The candidates and their weights.
        """
        raise NotImplementedError(f"the {self.name!r} family has no relaxed layer")

    def compile(self, p: Params) -> CompiledBlock:
        """A callable block for unbatched tensors ``p`` (see :class:`CompiledBlock`)."""
        return CompiledBlock(self, p)

    def head(self, p: Params, h: Tensor) -> Tensor:
        """The network's output from the final state (default: the ``last`` linear piece)."""
        return linear(h, p["last"])

    def head_vjp(self, p: Params, n: int) -> Tensor:
        """Output Jacobian of the head for ``n`` rows, ``(n, o, d)`` (linear heads only)."""
        w = p["last"].weight
        return w.expand(n, *w.shape)

    def __repr__(self) -> str:
        return f"<block family {self.name!r}: {self.description}>"
