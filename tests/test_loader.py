"""Loader: valid round trip, and every bad-input case gives a clear error naming file and fault."""
from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers.cli import assert_clean_error, invoke
from helpers.synthetic import make_puzzle
from reassembly.errors import PuzzleError
from reassembly.loader import CSV_NAME, PIECES_DIR, load_puzzle, save_puzzle


class NotATensor:
    """An arbitrary class: ``torch.load(weights_only=True)`` must refuse to unpickle it."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def piece(directory: Path, index: int) -> Path:
    return directory / PIECES_DIR / f"piece_{index}.pth"


def check_error(directory: Path, *fragments: str) -> None:
    """``load_puzzle`` raises PuzzleError with every fragment; ``reassembly solve`` exits 2 cleanly."""
    with pytest.raises(PuzzleError) as info:
        load_puzzle(directory)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert_clean_error(invoke("solve", directory, "--solver", "paper"), *fragments)


def edit_csv(directory: Path, change) -> Path:
    csv = directory / CSV_NAME
    df = change(pd.read_csv(csv))
    df.to_csv(csv, index=False)
    return csv


def test_round_trip(tmp_path: Path) -> None:
    puzzle, _ = make_puzzle(depth=4, width=6, rows=40)
    loaded = load_puzzle(save_puzzle(puzzle, tmp_path / "p"))
    assert loaded.architecture == puzzle.architecture
    assert loaded.roles == puzzle.roles
    assert loaded.name == "p"
    assert loaded.X.dtype == torch.float64 and torch.equal(loaded.X, puzzle.X)
    assert torch.equal(loaded.pred, puzzle.pred)
    for a, b in zip(loaded.pieces, puzzle.pieces):
        assert torch.equal(a.weight.double(), b.weight) and torch.equal(a.bias.double(), b.bias)


def test_true_column_is_optional_and_read(tmp_path: Path) -> None:
    puzzle, _ = make_puzzle(depth=2, width=4, rows=10)
    puzzle.true = puzzle.pred + 1
    loaded = load_puzzle(save_puzzle(puzzle, tmp_path / "p"))
    assert loaded.true is not None and torch.equal(loaded.true, puzzle.pred + 1)


def test_missing_directory(tmp_path: Path) -> None:
    check_error(tmp_path / "nowhere", str(tmp_path / "nowhere"), "puzzle directory not found")


def test_missing_csv(puzzle_dir: Path) -> None:
    (puzzle_dir / CSV_NAME).unlink()
    check_error(puzzle_dir, str(puzzle_dir / CSV_NAME), "data file not found")


def test_missing_pieces_directory(puzzle_dir: Path) -> None:
    for p in (puzzle_dir / PIECES_DIR).iterdir():
        p.unlink()
    (puzzle_dir / PIECES_DIR).rmdir()
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "pieces directory not found")


def test_gap_in_piece_numbers(puzzle_dir: Path) -> None:
    piece(puzzle_dir, 3).unlink()
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "without gaps", "missing [3]")


@pytest.mark.parametrize("name", ["piece_01.pth", "piece_x.pth", "extra.pth"])
def test_odd_piece_file_names(puzzle_dir: Path, name: str) -> None:
    (puzzle_dir / PIECES_DIR / name).write_bytes(piece(puzzle_dir, 0).read_bytes())
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "unexpected piece files", name)


def test_extra_piece_number(puzzle_dir: Path) -> None:
    # 9 pieces + 1 = 10: an even count cannot be 2 per block plus a last layer.
    piece(puzzle_dir, 9).write_bytes(piece(puzzle_dir, 0).read_bytes())
    check_error(puzzle_dir, "10 pieces cannot form the architecture")


def test_random_bytes(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    path.write_bytes(bytes(range(256)) * 4)
    check_error(puzzle_dir, str(path), "cannot be read as a weights-only PyTorch file")


def test_pickled_object_is_refused(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    torch.save({"weight": NotATensor(), "bias": torch.zeros(3)}, path)
    check_error(puzzle_dir, str(path), "cannot be read as a weights-only PyTorch file")


def test_plain_pickle_of_object_is_refused(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    path.write_bytes(pickle.dumps(NotATensor(), protocol=2))
    check_error(puzzle_dir, str(path), "cannot be read as a weights-only PyTorch file")


def test_not_a_state_dict(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    torch.save([torch.zeros(2, 2)], path)
    check_error(puzzle_dir, str(path), "expected a state dict with exactly 'weight' and 'bias'", "list")


def test_wrong_keys(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    state = torch.load(path, weights_only=True)
    torch.save({"w": state["weight"], "bias": state["bias"]}, path)
    check_error(puzzle_dir, str(path), "exactly 'weight' and 'bias'", "['bias', 'w']")


def test_values_not_tensors(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    torch.save({"weight": [[1.0]], "bias": [1.0]}, path)
    check_error(puzzle_dir, str(path), "must be tensors")


def test_integer_weights(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    state = torch.load(path, weights_only=True)
    torch.save({"weight": state["weight"].long(), "bias": state["bias"]}, path)
    check_error(puzzle_dir, str(path), "floating point")


def test_shapes_cannot_form_architecture(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, load_puzzle(puzzle_dir).roles.inputs[0])
    torch.save({"weight": torch.zeros(5, 7), "bias": torch.zeros(5)}, path)
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "shapes cannot form the architecture", "1 x 5x7")


def test_last_layer_of_wrong_width(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, load_puzzle(puzzle_dir).roles.last)
    torch.save({"weight": torch.zeros(1, 7), "bias": torch.zeros(1)}, path)
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "last layer 1x7 does not read the residual width")


def test_bias_of_wrong_length(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    state = torch.load(path, weights_only=True)
    torch.save({"weight": state["weight"], "bias": torch.zeros(len(state["bias"]) + 1)}, path)
    check_error(puzzle_dir, "piece 2", "bias of shape")


@pytest.mark.parametrize(("key", "value"), [("weight", float("nan")), ("bias", float("inf"))])
def test_non_finite_piece(puzzle_dir: Path, key: str, value: float) -> None:
    path = piece(puzzle_dir, 4)
    state = torch.load(path, weights_only=True)
    state[key].view(-1)[0] = value
    torch.save(state, path)
    check_error(puzzle_dir, str(path), f"{key} contains NaN or inf")


@pytest.mark.parametrize(("column", "value", "what"), [
    ("measurement_2", float("nan"), "measurement"),
    ("pred", float("inf"), "pred"),
])
def test_non_finite_csv(puzzle_dir: Path, column: str, value: float, what: str) -> None:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[6, column] = value
        return df

    csv = edit_csv(puzzle_dir, change)
    check_error(puzzle_dir, str(csv), f"{what} has NaN, inf or empty values", "row 7", column)


def test_non_numeric_csv(puzzle_dir: Path) -> None:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df["measurement_1"] = df["measurement_1"].astype(object)
        df.loc[3, "measurement_1"] = "abc"
        return df

    csv = edit_csv(puzzle_dir, change)
    check_error(puzzle_dir, str(csv), "non-numeric")


def test_csv_without_measurements(puzzle_dir: Path) -> None:
    csv = edit_csv(puzzle_dir, lambda df: df.rename(columns=lambda c: c.replace("measurement", "feature")))
    check_error(puzzle_dir, str(csv), "no measurement_i columns")


def test_csv_without_pred(puzzle_dir: Path) -> None:
    csv = edit_csv(puzzle_dir, lambda df: df.drop(columns="pred"))
    check_error(puzzle_dir, str(csv), "no 'pred' column")


def test_csv_of_wrong_width(puzzle_dir: Path) -> None:
    csv = edit_csv(puzzle_dir, lambda df: df.drop(columns="measurement_5"))
    check_error(puzzle_dir, str(csv), "has 5 measurement columns", "measurement_0..measurement_5")


def test_csv_with_too_many_measurements(puzzle_dir: Path) -> None:
    csv = edit_csv(puzzle_dir, lambda df: df.assign(measurement_6=0.0))
    check_error(puzzle_dir, str(csv), "has 7 measurement columns")


def test_csv_without_rows(puzzle_dir: Path) -> None:
    csv = edit_csv(puzzle_dir, lambda df: df.iloc[:0])
    check_error(puzzle_dir, str(csv), "no data rows")


def test_square_blocks(tmp_path: Path) -> None:
    # Built by hand: a Puzzle object itself refuses square blocks, so save_puzzle cannot write one.
    directory = tmp_path / "square"
    (directory / PIECES_DIR).mkdir(parents=True)
    for i in range(7):  # 3 blocks of 5x5 pieces + a 1x5 last layer
        shape = (1, 5) if i == 6 else (5, 5)
        torch.save({"weight": torch.randn(shape), "bias": torch.zeros(shape[0])}, piece(directory, i))
    pd.DataFrame({**{f"measurement_{j}": [0.0, 1.0] for j in range(5)}, "pred": [0.0, 1.0]}).to_csv(
        directory / CSV_NAME, index=False
    )
    check_error(directory, str(directory / PIECES_DIR), "square 5x5", "hidden dim equals input dim")
