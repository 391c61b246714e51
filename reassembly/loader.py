"""Read and write puzzle directories: ``pieces/piece_N.pth``, ``historical_data.csv`` and an
optional ``puzzle.json`` naming the block family and its options (without it, the Jane Street
``relu`` family). Families of token sequences read ``sequences.pth`` and ``fixed.pth`` instead of
the CSV (:mod:`reassembly.sequences`).

Pieces are untrusted files (:mod:`reassembly.safeio`): ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import torch

from reassembly.errors import PuzzleError
from reassembly.families import DEFAULT_FAMILY, get_family
from reassembly.families.base import BlockFamily
from reassembly.puzzle import Piece, Puzzle, infer_layout
from reassembly.safeio import csv_header, load_state, read_json, regular_file
from reassembly.sequences import FIXED_NAME, SEQUENCES_NAME, load_sequence_puzzle, sequence_files

CSV_NAME = "historical_data.csv"
PIECES_DIR = "pieces"
SPEC_NAME = "puzzle.json"
SPEC_FORMAT = 1
_PIECE_RE = re.compile(r"^piece_(0|[1-9][0-9]*)\.pth$")


def read_spec(root: Path) -> BlockFamily:
    """The family named by ``ROOT/puzzle.json`` (with its ``options``), or ``relu`` where there is none."""
    path = root / SPEC_NAME
    if not os.path.lexists(path):  # a dangling symlink or a loop is refused below, never read as "no spec"
        return get_family(DEFAULT_FAMILY)
    spec = read_json(path, "puzzle spec")
    unknown = sorted(set(spec) - {"family", "format", "options"})
    if unknown:
        raise PuzzleError(f"{path}: unknown key(s) {unknown}; expected 'family', 'format' and 'options'")
    options = spec.get("options", {})
    if not isinstance(options, dict):
        raise PuzzleError(f"{path}: 'options' must be a JSON object of family options")
    if spec.get("format", SPEC_FORMAT) != SPEC_FORMAT:
        raise PuzzleError(
            f"{path}: format {spec.get('format')!r} is not supported (this version reads format {SPEC_FORMAT})"
        )
    try:
        return get_family(spec.get("family", DEFAULT_FAMILY), options)
    except PuzzleError as exc:
        raise PuzzleError(f"{path}: {exc}") from None


def load_piece(path: Path, index: int) -> Piece:
    """One piece: ``weight`` (1-D or 2-D) and, where the family has one, a 1-D ``bias``."""
    state = load_state(path)
    if set(state) not in ({"weight"}, {"weight", "bias"}):
        raise PuzzleError(f"{path}: expected a state dict with 'weight' (and 'bias'), found {sorted(state)}")
    weight, bias = state["weight"], state.get("bias")
    if weight.ndim not in (1, 2) or (bias is not None and bias.ndim != 1):
        shapes = f"{tuple(weight.shape)}" + (f" and {tuple(bias.shape)}" if bias is not None else "")
        raise PuzzleError(f"{path}: weight must be 1-D or 2-D and bias 1-D, got shapes {shapes}")
    return Piece(index=index, weight=weight, bias=bias)


def piece_paths(pieces_dir: Path) -> dict[int, Path]:
    """``piece_N.pth`` files of a directory by ``N``, refusing gaps and stray ``.pth`` names."""
    if not pieces_dir.is_dir():
        raise PuzzleError(f"{pieces_dir}: pieces directory not found")
    found: dict[int, Path] = {}
    extras: list[str] = []
    for path in sorted(pieces_dir.iterdir()):
        m = _PIECE_RE.match(path.name)
        if m:
            found[int(m.group(1))] = path
        elif path.suffix == ".pth":
            extras.append(path.name)
    if extras:
        raise PuzzleError(f"{pieces_dir}: unexpected piece files {extras[:5]} (expected piece_N.pth, N = 0, 1, ...)")
    if not found:
        raise PuzzleError(f"{pieces_dir}: no piece_N.pth files")
    n = max(found) + 1
    gaps = [i for i in range(n) if i not in found]
    if gaps:
        raise PuzzleError(
            f"{pieces_dir}: piece numbers must run 0..{n - 1} without gaps; missing {gaps[:10]}"
            + (f" and {len(gaps) - 10} more" if len(gaps) > 10 else "")
        )
    return found


def data_files(family: BlockFamily) -> list[str]:
    """The files that hold a puzzle's data besides its pieces, for ``family``."""
    return [SEQUENCES_NAME, FIXED_NAME] if family.data_format == "sequences" else [CSV_NAME]


def visible_files(root: Path) -> list[str]:
    """Relative paths of what a solver may see in a puzzle directory: pieces, data and spec
    (each a regular file; never an answer)."""
    data = data_files(read_spec(root)) if os.path.lexists(root / SPEC_NAME) else [CSV_NAME]
    if not all((root / f).is_file() for f in data) or not (root / PIECES_DIR).is_dir():
        raise PuzzleError(f"{root}: not a puzzle directory (needs {PIECES_DIR}/ and {' and '.join(data)})")
    files = [f"{PIECES_DIR}/{p.name}" for p in piece_paths(root / PIECES_DIR).values()] + data
    if os.path.lexists(root / SPEC_NAME):
        files.append(SPEC_NAME)
    for rel in files:
        regular_file(root / rel)
    return sorted(files)


def _columns(header: list[str], prefix: str) -> list[str]:
    if prefix in header:
        return [prefix]
    cols = [c for c in header if re.fullmatch(rf"{prefix}_\d+", c)]
    return sorted(cols, key=lambda c: int(c.rsplit("_", 1)[1]))


def load_data(csv: Path, input_dim: int, output_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``X`` (``measurement_i``), ``pred`` and optional ``true`` as float64 tensors."""
    header = csv_header(csv)
    meas = _columns(header, "measurement")
    if not meas:
        raise PuzzleError(f"{csv}: no measurement_i columns")
    if meas != [f"measurement_{i}" for i in range(input_dim)]:
        raise PuzzleError(
            f"{csv}: has {len(meas)} measurement columns but the pieces need measurement_0..measurement_{input_dim - 1}"
        )
    pred_cols = _columns(header, "pred")
    if not pred_cols:
        raise PuzzleError(f"{csv}: no 'pred' column (the original model's outputs)")
    if len(pred_cols) != output_dim:
        raise PuzzleError(f"{csv}: {len(pred_cols)} pred columns but the head has {output_dim} outputs")
    true_cols = _columns(header, "true")
    try:  # every field read, by position: a row with a field too many is an error, never read shifted
        df = pd.read_csv(csv, header=None, skiprows=1, index_col=False)
    except pd.errors.EmptyDataError:
        raise PuzzleError(f"{csv}: no data rows") from None
    except Exception as exc:
        raise PuzzleError(
            f"{csv}: cannot be parsed as CSV ({(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]})"
        ) from None
    if len(df) == 0:
        raise PuzzleError(f"{csv}: no data rows")
    if df.shape[1] != len(header):
        raise PuzzleError(f"{csv}: rows have {df.shape[1]} fields but the header names {len(header)} columns")
    short = df.iloc[:, -1].isna().to_numpy().nonzero()[0]
    if len(short):
        raise PuzzleError(f"{csv}: row {int(short[0]) + 1} has fewer fields than the header (or an empty last field)")
    df.columns = header

    def tensor(cols: list[str], what: str) -> torch.Tensor:
        try:
            values = df[cols].to_numpy(dtype="float64")
        except (TypeError, ValueError):
            raise PuzzleError(f"{csv}: {what} columns hold non-numeric values") from None
        t = torch.from_numpy(values.copy())
        bad = (~torch.isfinite(t)).nonzero()
        if len(bad):
            row, col = (int(v) for v in bad[0])
            raise PuzzleError(
                f"{csv}: {what} has NaN, inf or empty values (first at row {row + 1}, column {cols[col]})"
            )
        return t

    true = tensor(true_cols, "true") if len(true_cols) == output_dim else None
    return tensor(meas, "measurement"), tensor(pred_cols, "pred"), true


def load_puzzle(directory: str | Path) -> Puzzle:
    """Load a puzzle directory, raising :class:`PuzzleError` (one line) on any fault."""
    root = Path(directory)
    if not root.is_dir():
        raise PuzzleError(f"{root}: puzzle directory not found")
    family = read_spec(root)
    name = root.resolve().name or str(root)
    for data in data_files(family):
        regular_file(root / data, "data file")
    paths = piece_paths(root / PIECES_DIR)
    pieces = [load_piece(paths[i], i) for i in range(len(paths))]
    layout = infer_layout(family, pieces, source=str(root / PIECES_DIR))
    if family.data_format == "sequences":
        return load_sequence_puzzle(root, family, pieces, layout.sizes["d"], name)
    X, pred, true = load_data(root / CSV_NAME, layout.sizes["d"], layout.sizes["o"])
    return Puzzle(pieces=tuple(pieces), X=X, pred=pred, true=true, name=name, family=family)


def _write(path: Path, data: bytes) -> None:
    """Write a new file readable by everyone the directory allows (mode 0o644 before the umask),
    never through a symlink (one there is an error)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise PuzzleError(
            f"{path}: cannot write it ({exc.strerror}{'; it is a symlink' if os.path.islink(path) else ''})"
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _save_state(path: Path, state: dict[str, torch.Tensor]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    _write(path, buf.getvalue())


def save_puzzle(puzzle: Puzzle, directory: str | Path) -> Path:
    """Write ``puzzle`` (float32 pieces, CSV at full float precision or the sequence files,
    ``puzzle.json``) into ``directory``."""
    root = Path(directory)
    (root / PIECES_DIR).mkdir(parents=True, exist_ok=True)
    for p in puzzle.pieces:
        state = {"weight": p.weight.detach().to(torch.float32).contiguous()}
        if p.bias is not None:
            state["bias"] = p.bias.detach().to(torch.float32).contiguous()
        _save_state(root / PIECES_DIR / f"piece_{p.index}.pth", state)
    spec = {"format": SPEC_FORMAT, "family": puzzle.family.name}
    if puzzle.family.options:
        spec["options"] = puzzle.family.options
    _write(root / SPEC_NAME, (json.dumps(spec) + "\n").encode())
    if puzzle.family.data_format == "sequences":
        for name, state in sequence_files(puzzle).items():
            _save_state(root / name, state)
        return root
    cols = {f"measurement_{i}": puzzle.X[:, i].numpy() for i in range(puzzle.X.shape[1])}
    o = puzzle.pred.shape[1]
    for what, values in (("pred", puzzle.pred), ("true", puzzle.true)):
        if values is not None:
            names = [what] if o == 1 else [f"{what}_{i}" for i in range(o)]
            cols.update({n: values[:, i].numpy() for i, n in enumerate(names)})
    _write(root / CSV_NAME, pd.DataFrame(cols).to_csv(index=False, float_format="%.17g").encode())
    return root
