"""What the referee keeps of a solver's message: the task's answer fields and a few labelled,
type-checked claims; everything else it sends (facts, metrics, a forged ``exact``) is dropped.

A claim of the wrong type (a string for ``seconds``, an object in the trace) is a
:class:`ClaimError`, which the runner turns into an error row for that run.
"""

from __future__ import annotations

import math
from typing import Any

MAX_TRACE = 10_000  # stages in a trace
MAX_TEXT = 2_000  # characters in an error message or a trace string

#: The names the solver's own figures are kept under in the row (never the referee's columns).
CLAIMED_SECONDS = "claimed_seconds"


class ClaimError(ValueError):
    """A solver's message whose fields are not of the types the referee accepts."""


def _number(value: Any, name: str, integer: bool = False) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise ClaimError(f"{name!r} is a {type(value).__name__}, not {'an integer' if integer else 'a number'}")
    if integer:
        if not 0 <= value < 1 << 63:
            raise ClaimError(f"{name!r} is out of range")
        return value
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ClaimError(f"{name!r} must be a finite number >= 0")
    return value


def _scalar(value: Any, name: str) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    raise ClaimError(f"{name} holds a {type(value).__name__}, not a number or text")


def _trace(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_TRACE:
        raise ClaimError(f"'trace' must be a list of at most {MAX_TRACE:,} stages")
    out = []
    for k, stage in enumerate(value):
        if not isinstance(stage, dict):
            raise ClaimError(f"'trace' stage {k} is a {type(stage).__name__}, not an object")
        out.append({str(key)[:100]: _scalar(v, f"'trace' stage {k}") for key, v in stage.items()})
    return out


def _certificate(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ClaimError(f"'certificate' is a {type(value).__name__}, not an object")
    if not isinstance(value.get("kind", ""), str):
        raise ClaimError("'certificate' kind is not text")
    return value


def solved(fields: dict[str, Any], answer_fields: tuple[str, ...]) -> dict[str, Any]:
    """The kept fields of a ``solved`` message: the answer (checked by the task's judge),
    ``evaluations``, ``trace``, ``certificate`` and the solver's own time as ``claimed_seconds``."""
    kept = {name: fields.get(name) for name in answer_fields}
    kept["evaluations"] = _number(fields.get("evaluations"), "evaluations", integer=True)
    kept["trace"] = _trace(fields.get("trace"))
    kept["certificate"] = _certificate(fields.get("certificate"))
    kept[CLAIMED_SECONDS] = _number(fields.get("seconds"), "seconds")
    return kept


def failed(fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The kept fields and the message of an ``error`` or ``unsupported`` message."""
    error = fields.get("error")
    text = error if isinstance(error, str) else f"(no message: the solver's process sent a {type(error).__name__})"
    try:
        claimed = _number(fields.get("seconds"), "seconds")
    except ClaimError:
        claimed = None
    return {CLAIMED_SECONDS: claimed}, text[:MAX_TEXT]
