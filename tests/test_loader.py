"""Loader: valid round trips for every family, and every bad-input case (a hostile one included)
gives a clear one-line error naming file and fault, never a hang, a traceback or a silent wrong answer."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers.cli import assert_clean_error, invoke
from helpers.synthetic import make_puzzle

from reassembly.errors import PuzzleError
from reassembly.loader import CSV_NAME, PIECES_DIR, SPEC_NAME, load_puzzle, save_puzzle


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


@pytest.mark.parametrize("family", ["relu", "gelu", "silu", "prenorm", "swiglu"])
def test_round_trip(tmp_path: Path, family: str) -> None:
    puzzle, _ = make_puzzle(depth=4, width=6, rows=40, family=family)
    loaded = load_puzzle(save_puzzle(puzzle, tmp_path / "p"))
    assert loaded.family.name == family and loaded.layout.pools == puzzle.layout.pools
    assert loaded.layout.sizes == {"d": 6, "h": 12, "o": 1} and loaded.depth == 4
    assert loaded.name == "p"
    assert loaded.X.dtype == torch.float64 and torch.equal(loaded.X, puzzle.X)
    assert torch.equal(loaded.pred, puzzle.pred)
    for a, b in zip(loaded.pieces, puzzle.pieces):
        assert torch.equal(a.weight.double(), b.weight)
        assert (a.bias is None and b.bias is None) or torch.equal(a.bias.double(), b.bias)
    if family == "relu":  # the Jane Street layout: without a spec file, a directory is a relu puzzle
        (tmp_path / "p" / SPEC_NAME).unlink()
        assert load_puzzle(tmp_path / "p").family.name == "relu"


def test_written_files_are_readable_by_others(tmp_path: Path) -> None:
    puzzle, _ = make_puzzle(depth=2, width=4, rows=10)
    root = save_puzzle(puzzle, tmp_path / "p")
    for path in (root / CSV_NAME, root / SPEC_NAME, root / PIECES_DIR / "piece_0.pth"):
        assert os.stat(path).st_mode & 0o044 == 0o044, path


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
    check_error(puzzle_dir, "10 pieces cannot form 'relu' blocks")


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
    check_error(puzzle_dir, str(path), "expected a state dict of named tensors", "list")


def test_wrong_keys(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    state = torch.load(path, weights_only=True)
    torch.save({"w": state["weight"], "bias": state["bias"]}, path)
    check_error(puzzle_dir, str(path), "expected a state dict with 'weight' (and 'bias')", "['bias', 'w']")


def test_values_not_tensors(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    torch.save({"weight": [[1.0]], "bias": [1.0]}, path)
    check_error(puzzle_dir, str(path), "'weight' is a list, not a tensor")


def test_integer_weights(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    state = torch.load(path, weights_only=True)
    torch.save({"weight": state["weight"].long(), "bias": state["bias"]}, path)
    check_error(puzzle_dir, str(path), "must be a floating-point tensor")


def test_shapes_cannot_form_the_family(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, load_puzzle(puzzle_dir).layout.pools["inp"][0])
    torch.save({"weight": torch.zeros(5, 7), "bias": torch.zeros(5)}, path)
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "shapes cannot form 'relu' blocks", "1 x 5x7+bias")


def test_head_of_wrong_width(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, load_puzzle(puzzle_dir).layout.pools["last"][0])
    torch.save({"weight": torch.zeros(1, 7), "bias": torch.zeros(1)}, path)
    check_error(puzzle_dir, str(puzzle_dir / PIECES_DIR), "shapes cannot form 'relu' blocks", "1 x 1x7+bias")


def test_pieces_of_another_family(puzzle_dir: Path) -> None:
    (puzzle_dir / SPEC_NAME).write_text(json.dumps({"format": 1, "family": "swiglu"}))
    check_error(puzzle_dir, "cannot form 'swiglu' blocks")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"family": "transformerish"}', "unknown block family 'transformerish'"),
        ('{"format": 9, "family": "relu"}', "format 9 is not supported"),
        ('{"family": "relu", "extra": 1}', "unknown key(s) ['extra']"),
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_spec_file(puzzle_dir: Path, text: str, fragment: str) -> None:
    (puzzle_dir / SPEC_NAME).write_text(text)
    check_error(puzzle_dir, str(puzzle_dir / SPEC_NAME), fragment)


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
    check_error(puzzle_dir, str(path), f"'{key}' contains NaN or inf")


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("measurement_2", float("nan"), "measurement"),
        ("pred", float("inf"), "pred"),
    ],
)
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


def test_square_blocks_load_with_one_shared_pool(tmp_path: Path) -> None:
    puzzle, _ = make_puzzle(depth=3, width=5, hidden=5, rows=20)
    loaded = load_puzzle(save_puzzle(puzzle, tmp_path / "square"))
    assert loaded.layout.pools["inp"] == loaded.layout.pools["out"] and len(loaded.layout.pools["inp"]) == 6


# Hostile files: each must give a one-line error, quickly, with bounded memory.


def test_a_fifo_piece_is_refused_without_hanging(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    path.unlink()
    os.mkfifo(path)
    check_error(puzzle_dir, str(path), "not a regular file (a FIFO)")


def test_a_fifo_csv_is_refused_without_hanging(puzzle_dir: Path) -> None:
    (puzzle_dir / CSV_NAME).unlink()
    os.mkfifo(puzzle_dir / CSV_NAME)
    check_error(puzzle_dir, str(puzzle_dir / CSV_NAME), "not a regular file (a FIFO)")


@pytest.mark.parametrize("size", [30_000, 200_000])
def test_a_repeating_view_cannot_blow_up_memory(puzzle_dir: Path, size: int) -> None:
    path = piece(puzzle_dir, 2)
    torch.save({"weight": torch.zeros(1).expand(size, size), "bias": torch.zeros(size)}, path)
    assert path.stat().st_size < 2_000_000  # a small file ...
    check_error(puzzle_dir, str(path), "would need", "a repeating view")  # ... that would cost gigabytes


def test_sparse_and_meta_tensors_are_refused(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    state = torch.load(path, weights_only=True)
    torch.save({"weight": state["weight"].to_sparse(), "bias": state["bias"]}, path)
    check_error(puzzle_dir, str(path), "only dense tensors are accepted")
    torch.save({"weight": torch.empty(state["weight"].shape, device="meta"), "bias": state["bias"]}, path)
    with pytest.raises(PuzzleError) as info:
        load_puzzle(puzzle_dir)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("column", ["measurement_5", "pred"])
def test_duplicated_csv_columns_are_refused(puzzle_dir: Path, column: str) -> None:
    csv = puzzle_dir / CSV_NAME
    lines = csv.read_text().splitlines()
    header = lines[0].split(",")
    at = header.index(column)
    csv.write_text("\n".join(",".join(cells + [cells[at]]) for cells in (line.split(",") for line in lines)) + "\n")
    check_error(puzzle_dir, str(csv), "duplicated column name", repr(column))


def test_a_piece_that_is_a_directory(puzzle_dir: Path) -> None:
    path = piece(puzzle_dir, 2)
    path.unlink()
    path.mkdir()
    check_error(puzzle_dir, str(path), "not a regular file (a directory)")
