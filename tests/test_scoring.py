"""Scoring: the answer's text and SHA-256, MSE of right and wrong assemblies, accuracies, validation,
and exactness judged on the assembled function."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.synthetic import make_puzzle

from reassembly.answer import Answer, Assembly, parse_ids, validate
from reassembly.errors import PermutationError
from reassembly.puzzle import Piece, Puzzle
from reassembly.scoring import block_order_tau, grouping_accuracy, score


def swap_blocks(a: Assembly, i: int, j: int) -> Assembly:
    blocks = list(a.blocks)
    blocks[i], blocks[j] = blocks[j], blocks[i]
    return Assembly(tuple(blocks), a.head)


def test_text_and_sha256_of_a_known_answer() -> None:
    a = Assembly(((0, 1),), (2,))
    assert a.text() == "0,1,2" and a.ids() == [0, 1, 2]
    # sha256(b"0,1,2"): the ids joined by commas, no spaces (the Jane Street format).
    assert a.sha256() == "c0be322c1ad6af50f418b96232d98fe25a36d5d0a557291833f8248f2084b8ef"


def test_parsing_tolerates_spaces_and_brackets_and_rejects_words() -> None:
    assert parse_ids("[3, 1,2 ]") == [3, 1, 2]
    with pytest.raises(PermutationError, match="not a comma-separated list of integers"):
        parse_ids("1,two,3")


@pytest.mark.parametrize("bad", [[0.0, 1], [True, 1], ["0", 1], [0.9, 1]])
def test_piece_ids_must_be_integers(bad) -> None:
    with pytest.raises(PermutationError, match="not an integer piece id"):
        Assembly((tuple(bad),), (2,))


def test_mse_zero_for_truth_positive_for_wrong(synthetic) -> None:
    puzzle, answer = synthetic
    truth = answer.assembly(puzzle.layout)
    right = score(puzzle, truth, answer)
    assert right.mse < 1e-20 and right.exact is True and right.order_exact is True
    assert right.grouping_accuracy == 1.0 and right.kendall_tau == pytest.approx(1.0)

    wrong_order = score(puzzle, swap_blocks(truth, 0, 5), answer)
    assert wrong_order.mse > 1e-6 and wrong_order.exact is False and wrong_order.order_exact is False
    assert wrong_order.grouping_accuracy == 1.0 and wrong_order.kendall_tau < 1.0

    blocks = [list(b) for b in truth.blocks]
    blocks[1][1], blocks[2][1] = blocks[2][1], blocks[1][1]  # exchange the output projections of blocks 2 and 3
    bad_groups = score(puzzle, Assembly(tuple(map(tuple, blocks)), truth.head), answer)
    assert bad_groups.mse > 1e-6 and bad_groups.grouping_accuracy == pytest.approx(6 / 8)
    assert bad_groups.order_exact is True and bad_groups.exact is False


def test_score_without_answer_and_against_a_hash(synthetic) -> None:
    puzzle, answer = synthetic
    truth = answer.assembly(puzzle.layout)
    s = score(puzzle, truth)
    assert s.exact is None and math.isnan(s.grouping_accuracy) and math.isnan(s.kendall_tau)
    assert s.sha256 == answer.sha256
    hashed = Answer(sha256=answer.sha256)
    assert score(puzzle, truth, hashed).exact is True
    wrong = score(puzzle, swap_blocks(truth, 0, 1), hashed)
    assert wrong.exact is False and math.isnan(wrong.grouping_accuracy)


def test_swapping_gate_and_up_is_wrong_unless_the_function_is_the_same() -> None:
    puzzle, answer = make_puzzle(family="swiglu", depth=3, width=6, hidden=8, rows=50, seed=1)
    truth = answer.assembly(puzzle.layout)
    blocks = [list(b) for b in truth.blocks]
    blocks[0][0], blocks[0][1] = blocks[0][1], blocks[0][0]  # gate and up of the first block exchanged
    swapped = Assembly(tuple(map(tuple, blocks)), truth.head)
    validate(swapped, puzzle.layout)  # same shapes: a valid answer ...
    assert score(puzzle, swapped, answer).exact is False  # ... that computes another function
    # Make the first block's gate and up identical: exchanging them now computes the same function.
    same = list(puzzle.pieces)
    g = same[truth.blocks[0][0]]
    same[truth.blocks[0][1]] = Piece(truth.blocks[0][1], g.weight.clone(), None)
    twin = Puzzle(tuple(same), puzzle.X, puzzle.pred, family="swiglu")
    from reassembly.scoring import outputs

    twin = Puzzle(tuple(same), puzzle.X, outputs(twin, truth), family="swiglu")
    s = score(twin, swapped, answer)
    assert s.exact is True and s.sha256 != answer.sha256 and s.grouping_accuracy < 1


def test_square_blocks_are_a_valid_layout_and_slots_are_part_of_the_answer() -> None:
    puzzle, answer = make_puzzle(depth=3, width=5, hidden=5, rows=40, seed=2)
    assert puzzle.layout.pools["inp"] == puzzle.layout.pools["out"] and puzzle.layout.ambiguous
    truth = answer.assembly(puzzle.layout)
    flipped = Assembly(tuple((b, a) for a, b in truth.blocks), truth.head)  # every inp/out exchanged
    assert score(puzzle, flipped, answer).exact is False


# Three relu blocks: inputs 0, 2, 4 (shape h x d), outputs 1, 3, 5 (d x h), head 6.
def _layout():
    pieces = [
        Piece(
            i,
            torch.zeros((4, 3) if i in (0, 2, 4) else (3, 4) if i < 6 else (1, 3)),
            torch.zeros(4 if i in (0, 2, 4) else 3 if i < 6 else 1),
        )
        for i in range(7)
    ]
    return Puzzle(tuple(pieces), torch.zeros(2, 3), torch.zeros(2, 1)).layout


TRUTH = Assembly(((0, 1), (2, 3), (4, 5)), (6,))


@pytest.mark.parametrize(
    ("ids", "accuracy", "tau"),
    [
        ((0, 1, 2, 3, 4, 5, 6), 1.0, 1.0),
        ((2, 3, 0, 1, 4, 5, 6), 1.0, 1 / 3),  # first two blocks exchanged
        ((4, 5, 2, 3, 0, 1, 6), 1.0, -1.0),  # reversed
        ((0, 3, 2, 1, 4, 5, 6), 1 / 3, 1.0),  # two outputs exchanged
        ((2, 5, 4, 1, 0, 3, 6), 0.0, -1 / 3),  # every group wrong, blocks rotated
    ],
)
def test_accuracies_on_hand_made_answers(ids, accuracy, tau) -> None:
    predicted = Assembly.from_ids(ids, _layout())
    assert grouping_accuracy(predicted, TRUTH) == pytest.approx(accuracy)
    assert block_order_tau(predicted, TRUTH) == pytest.approx(tau)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([0, 1, 2, 3, 4, 5], "has 6 ids, the puzzle has 7 pieces"),
        ([0, 1, 2, 3, 4, 4, 6], "missing [5], repeated [4]"),
        ([0, 1, 2, 3, 4, 5, 7], "missing [6]"),
        ([1, 0, 2, 3, 4, 5, 6], "block 1 slot 'inp' holds piece 1, whose shape does not fit"),
        ([0, 2, 1, 3, 4, 5, 6], "block 1 slot 'out' holds piece 2"),
        ([0, 1, 2, 3, 6, 5, 4], "slot 'inp' holds piece 6"),
    ],
)
def test_invalid_answers(ids, message) -> None:
    with pytest.raises(PermutationError) as info:
        validate(Assembly.from_ids(ids, _layout()), _layout())
    assert message in str(info.value)
