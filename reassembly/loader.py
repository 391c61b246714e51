"""Read and write puzzles in the Jane Street layout: ``DIR/pieces/piece_N.pth`` + ``DIR/historical_data.csv``.

Pieces are untrusted files: they are loaded with ``torch.load(weights_only=True)`` only.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from reassembly.errors import PuzzleError
from reassembly.puzzle import Piece, Puzzle, infer_architecture

CSV_NAME = "historical_data.csv"
PIECES_DIR = "pieces"
_PIECE_RE = re.compile(r"^piece_(0|[1-9][0-9]*)\.pth$")


def load_piece(path: Path, index: int) -> Piece:
    """Load one ``{weight, bias}`` state dict, checking types, ranks and finiteness."""
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise PuzzleError(f"{path}: cannot be read as a weights-only PyTorch file ({reason})") from exc
    if not isinstance(state, Mapping) or set(state.keys()) != {"weight", "bias"}:
        keys = sorted(map(str, state.keys())) if isinstance(state, Mapping) else type(state).__name__
        raise PuzzleError(f"{path}: expected a state dict with exactly 'weight' and 'bias', found {keys}")
    weight, bias = state["weight"], state["bias"]
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise PuzzleError(f"{path}: 'weight' and 'bias' must be tensors")
    if weight.ndim != 2 or bias.ndim != 1:
        raise PuzzleError(
            f"{path}: weight must be 2-D and bias 1-D, got shapes {tuple(weight.shape)} and {tuple(bias.shape)}"
        )
    if not weight.is_floating_point() or not bias.is_floating_point():
        raise PuzzleError(f"{path}: weight and bias must be floating point, got {weight.dtype} and {bias.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if not torch.isfinite(t).all():
            raise PuzzleError(f"{path}: {name} contains NaN or inf")
    return Piece(index=index, weight=weight.detach().clone(), bias=bias.detach().clone())


def _piece_paths(pieces_dir: Path) -> dict[int, Path]:
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


def _column(df: pd.DataFrame, prefix: str) -> list[str]:
    if prefix in df.columns:
        return [prefix]
    cols = [c for c in df.columns if re.fullmatch(rf"{prefix}_\d+", str(c))]
    return sorted(cols, key=lambda c: int(str(c).rsplit("_", 1)[1]))


def load_data(csv: Path, input_dim: int, output_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Read ``X`` (``measurement_i``), ``pred`` and optional ``true`` as float64 tensors."""
    if not csv.is_file():
        raise PuzzleError(f"{csv}: data file not found")
    try:
        df = pd.read_csv(csv)
    except Exception as exc:
        raise PuzzleError(f"{csv}: cannot be parsed as CSV ({exc})") from exc
    meas = [c for c in df.columns if re.fullmatch(r"measurement_\d+", str(c))]
    meas.sort(key=lambda c: int(str(c).rsplit("_", 1)[1]))
    if not meas:
        raise PuzzleError(f"{csv}: no measurement_i columns")
    if len(meas) != input_dim or meas != [f"measurement_{i}" for i in range(input_dim)]:
        raise PuzzleError(
            f"{csv}: has {len(meas)} measurement columns but the pieces need measurement_0..measurement_{input_dim - 1}"
        )
    pred_cols = _column(df, "pred")
    if not pred_cols:
        raise PuzzleError(f"{csv}: no 'pred' column (the original model's outputs)")
    if len(pred_cols) != output_dim:
        raise PuzzleError(f"{csv}: {len(pred_cols)} pred columns but the last layer has {output_dim} outputs")
    true_cols = _column(df, "true")
    if len(df) == 0:
        raise PuzzleError(f"{csv}: no data rows")

    def tensor(cols: list[str], what: str) -> torch.Tensor:
        try:
            values = df[cols].to_numpy(dtype="float64")
        except (TypeError, ValueError) as exc:
            raise PuzzleError(f"{csv}: {what} columns hold non-numeric values") from exc
        t = torch.from_numpy(values.copy())
        bad = (~torch.isfinite(t)).nonzero()
        if len(bad):
            row, col = (int(v) for v in bad[0])
            raise PuzzleError(f"{csv}: {what} has NaN, inf or empty values (first at row {row + 1}, column {cols[col]})")
        return t

    X = tensor(meas, "measurement")
    pred = tensor(pred_cols, "pred")
    true = tensor(true_cols, "true") if len(true_cols) == output_dim else None
    return X, pred, true


def load_puzzle(directory: str | Path) -> Puzzle:
    """Load a puzzle in the Jane Street layout, raising :class:`PuzzleError` on any fault."""
    root = Path(directory)
    if not root.is_dir():
        raise PuzzleError(f"{root}: puzzle directory not found")
    csv = root / CSV_NAME
    if not csv.is_file():
        raise PuzzleError(f"{csv}: data file not found")
    paths = _piece_paths(root / PIECES_DIR)
    pieces = [load_piece(paths[i], i) for i in range(len(paths))]
    arch, _ = infer_architecture(pieces, source=str(root / PIECES_DIR))
    X, pred, true = load_data(csv, arch.input_dim, arch.output_dim)
    return Puzzle(pieces=tuple(pieces), X=X, pred=pred, true=true, name=root.name or str(root))


def save_puzzle(puzzle: Puzzle, directory: str | Path) -> Path:
    """Write ``puzzle`` in the Jane Street layout (float32 pieces, CSV with full float precision)."""
    root = Path(directory)
    (root / PIECES_DIR).mkdir(parents=True, exist_ok=True)
    for p in puzzle.pieces:
        torch.save(
            {"weight": p.weight.detach().to(torch.float32).contiguous(), "bias": p.bias.detach().to(torch.float32).contiguous()},
            root / PIECES_DIR / f"piece_{p.index}.pth",
        )
    cols = {f"measurement_{i}": puzzle.X[:, i].numpy() for i in range(puzzle.X.shape[1])}
    o = puzzle.pred.shape[1]
    names = ["pred"] if o == 1 else [f"pred_{i}" for i in range(o)]
    cols.update({n: puzzle.pred[:, i].numpy() for i, n in enumerate(names)})
    if puzzle.true is not None:
        tnames = ["true"] if o == 1 else [f"true_{i}" for i in range(o)]
        cols.update({n: puzzle.true[:, i].numpy() for i, n in enumerate(tnames)})
    pd.DataFrame(cols).to_csv(root / CSV_NAME, index=False, float_format="%.17g")
    return root


