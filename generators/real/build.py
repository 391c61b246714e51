"""``reassembly generate --from minilm|smollm2``: a real network's layers, shuffled, with the
network's outputs on token sequences of text and the answer kept apart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from generators.build import shuffled_ids
from generators.output import METADATA_NAME, claim_directory
from generators.real.fetch import require, source
from generators.real.models import READERS, RealModel
from generators.real.text import windows
from generators.seeding import stream_seed
from reassembly.answer import ANSWER_NAME, Answer, Assembly, save_answer
from reassembly.errors import ConfigError
from reassembly.loader import save_puzzle
from reassembly.puzzle import Piece, Puzzle
from reassembly.scoring import outputs

DEFAULT_ROWS = {"minilm": 64, "smollm2": 32}


@dataclass(frozen=True)
class RealConfig:
    """A real-network puzzle.

    Parameters
    ----------
    source
        The network (``minilm`` or ``smollm2``).
    seed
        Chooses the text windows and shuffles the piece numbers.
    rows
        Token sequences (default per network).
    length
        Tokens per sequence.
    layers
        Pose only the network's first ``layers`` layers (a rung of the depth ladder; ``None``: all).
        The stem and head stay those of the full network; ``pred`` is the truncated network's output.
    """

    source: str
    seed: int = 0
    rows: int | None = None
    length: int = 32
    layers: int | None = None

    def __post_init__(self) -> None:
        source(self.source)
        for name, low in (("seed", 0), ("length", 2)):
            if (
                isinstance(getattr(self, name), bool)
                or not isinstance(getattr(self, name), int)
                or getattr(self, name) < low
            ):
                raise ConfigError(f"--{name} must be an integer >= {low}, got {getattr(self, name)!r}")
        for name in ("rows", "layers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"--{name} must be an integer >= 1, got {value!r}")
        if self.rows is None:
            object.__setattr__(self, "rows", DEFAULT_ROWS[self.source])


def truncated(layers: list, config: RealConfig) -> list:
    """The first ``config.layers`` of the network's ``layers`` (all where ``None``).

    Parameters
    ----------
    layers
        The network's layers, in order.
    config
        The puzzle's configuration.

    Raises
    ------
    ConfigError
        Where ``config.layers`` exceeds the network's depth.
    """
    if config.layers is None:
        return layers
    if config.layers > len(layers):
        raise ConfigError(
            f"--layers must be from 1 to {len(layers)} for {config.source} ({len(layers)} layers), got {config.layers}"
        )
    return layers[: config.layers]


def sequences(model: RealModel, config: RealConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """The puzzle's token sequences, its fixed tensors and the model's token id of each embedding row.

    Windows of the model's text (chosen by ``config.seed``); the embedding table keeps only the
    rows the sequences use (``tokens`` index those rows) and a position table only ``config.length`` rows.

    Parameters
    ----------
    model
        The network as read.
    config
        The puzzle's configuration (seed, rows, length).
    """
    full = windows(
        model.text_ids, config.rows, config.length, stream_seed(config.seed, "windows"), model.bos, model.eos
    )
    vocab, tokens = torch.unique(full, return_inverse=True)
    fixed = {k: v.float().double() for k, v in model.fixed.items()}
    fixed["embed"] = fixed["embed"][vocab]
    if "position" in fixed:
        fixed["position"] = fixed["position"][: config.length]
    return tokens, fixed, vocab


def build_real(config: RealConfig, cache_dir: str | Path | None = None) -> tuple[Puzzle, Answer, dict]:
    """The shuffled puzzle of ``config``, its answer and what generation.json records.

    ``pred`` is the float64 output of the float32 layers on the token sequences, computed by the
    family's own forward (the referee's); the embedding table keeps only the rows the sequences use.
    """
    model = READERS[config.source](require(config.source, cache_dir))
    family, layers = model.family, truncated(model.layers, config)
    tokens, fixed, vocab = sequences(model, config)
    S = len(family.slots)
    ids = shuffled_ids(len(layers) * S, config.seed)
    pieces = [
        Piece(ids[k * S + j], *(t if t is None else t.float() for t in layer[slot.name]))
        for k, layer in enumerate(layers)
        for j, slot in enumerate(family.slots)
    ]
    truth = Assembly(tuple(tuple(ids[k * S : (k + 1) * S]) for k in range(len(layers))), ())
    X = family.stem(fixed, tokens)
    probe = Puzzle(pieces=tuple(pieces), X=X, pred=torch.zeros_like(X), family=family, fixed=fixed, tokens=tokens)
    name = f"{config.source}{'' if config.layers is None else f'-l{config.layers}'}-seed{config.seed}"
    puzzle = Puzzle(
        pieces=tuple(pieces), X=X, pred=outputs(probe, truth), name=name, family=family, fixed=fixed, tokens=tokens
    )
    meta = {
        "config": asdict(config),
        "source": {"requirement": source(config.source).requirement, **model.about},
        "vocab": vocab.tolist(),
    }
    return puzzle, Answer.of(truth), meta


def generate_real(
    config: RealConfig, out_dir: str | Path, cache_dir: str | Path | None = None, force: bool = False
) -> Puzzle:
    """Write the puzzle of ``config`` into ``out_dir`` (as :func:`generators.build.generate`):
    pieces, ``sequences.pth``, ``fixed.pth``, ``puzzle.json``, ``answer.json`` and ``generation.json``
    (``vocab``: the model's token id of each row of the fixed embedding table)."""
    existed = Path(out_dir).exists()
    root = claim_directory(Path(out_dir), force)
    try:
        puzzle, answer, meta = build_real(config, cache_dir)
    except BaseException:
        if not existed and not any(root.iterdir()):  # leave nothing behind that this call made
            root.rmdir()
        raise
    save_puzzle(puzzle, root)
    save_answer(answer, root / ANSWER_NAME)
    (root / METADATA_NAME).write_text(json.dumps(meta) + "\n")
    return puzzle
