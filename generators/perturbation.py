"""Post-training perturbations as options: ``noise=0.01``, ``quantize=8``, ``prune=0.5``,
``finetune=100``, ``reparam`` or ``rescale=0.05`` (an integrity attack on that share of the units)."""

from __future__ import annotations

from dataclasses import dataclass

from reassembly.errors import ConfigError

PERTURBATIONS = ("noise", "quantize", "prune", "finetune", "reparam", "rescale")
_EXAMPLES = {"noise": "0.01", "quantize": "8", "prune": "0.5", "finetune": "100", "rescale": "0.05"}


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class Perturbation:
    """One post-training change: ``noise`` (relative σ), ``quantize`` (bits), ``prune`` (fraction),
    ``finetune`` (steps), ``reparam`` (no value: permute and rescale hidden units) or ``rescale``
    (share of each block's hidden units whose norm an integrity attack changes)."""

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        k, v = self.kind, self.value
        _require(k in PERTURBATIONS, f"perturbation: unknown kind {k!r}; choose from {', '.join(PERTURBATIONS)}")
        if k == "reparam":
            _require(v is None, "perturbation: reparam takes no value")
            return
        _require(
            isinstance(v, (int, float)) and v == v and abs(v) != float("inf"),
            f"perturbation {k}: needs a numeric value, e.g. {k}={_EXAMPLES[k]}",
        )
        if k == "noise":
            _require(v >= 0, f"perturbation noise: relative sigma must be >= 0, got {v}")
        elif k == "quantize":
            _require(
                float(v).is_integer() and 1 <= v <= 16,
                f"perturbation quantize: bits must be an integer in 1..16, got {v}",
            )
        elif k == "prune":
            _require(0 <= v < 1, f"perturbation prune: fraction must be in [0, 1), got {v}")
        elif k == "finetune":
            _require(float(v).is_integer() and v >= 1, f"perturbation finetune: steps must be an integer >= 1, got {v}")
        elif k == "rescale":
            _require(0 < v <= 1, f"perturbation rescale: the share of units must be in (0, 1], got {v}")

    def __str__(self) -> str:
        if self.value is None:
            return self.kind
        v = int(self.value) if self.kind in ("quantize", "finetune") else self.value
        return f"{self.kind}={v}"


def parse_perturbation(text: str) -> Perturbation:
    """``"noise=0.01"``, ``"quantize=8"``, ``"prune=0.5"``, ``"finetune=100"`` or ``"reparam"``."""
    kind, sep, raw = text.strip().partition("=")
    kind = kind.strip().lower()
    if not sep:
        return Perturbation(kind)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"perturbation {text!r}: {raw!r} is not a number") from None
    return Perturbation(kind, value)
