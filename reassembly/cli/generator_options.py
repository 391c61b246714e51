"""The generator's options as command-line options, built from the configuration's fields
(:func:`generators.config.option_fields`) so that ``generate`` and ``bench`` offer the same ones."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

RECIPE_PANEL = "Synthetic puzzles: model, data and training"


def _option(f: Any, repeatable: bool) -> inspect.Parameter:
    kind = {int: int, float: float, str: str}.get(type(f.default), str)
    if f.name == "early_stopping":
        kind = int
    choices = f.metadata.get("choices")
    default = f"default {f.default}" if f.default is not None else "off by default"
    help_text = f"{f.metadata['help']} ({default}{'; ' + ', '.join(choices) if choices else ''})"
    if repeatable:
        help_text += " Repeatable: one suite per value."
    annotation = Annotated[
        list[kind] | None if repeatable else kind | None,  # type: ignore[valid-type]
        typer.Option(f"--{f.name.replace('_', '-')}", help=help_text, rich_help_panel=RECIPE_PANEL, show_default=False),
    ]
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def with_generator_options(repeatable: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> Callable:
    """Decorate a command ``f(generator: dict, ...)``: every generator option becomes a command-line
    option (``repeatable`` ones take several values: lists) and arrives in ``generator``, ``None``
    where not given."""
    from generators.config import option_fields

    chosen = [f for f in option_fields() if f.name not in exclude]

    def decorate(func: Callable) -> Callable:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints[name])
            for name, p in inspect.signature(func).parameters.items()
            if name != "generator"
        ]
        names = {f.name for f in chosen}

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            generator = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            return func(*args, generator=generator, **kwargs)

        params = own + [_option(f, f.name in repeatable) for f in chosen]
        params.sort(key=lambda p: p.kind)  # keyword-only after the others
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__
        return wrapper

    return decorate
