"""Scoring: SHA-256 format, MSE of right and wrong assemblies, accuracies, permutation validation."""
from __future__ import annotations

import math

import pytest

from reassembly.answer import Answer
from reassembly.errors import PermutationError
from reassembly.permutation import Assembly, format_permutation, parse_permutation, permutation_sha256
from reassembly.puzzle import PieceRoles
from reassembly.scoring import block_order_tau, order_exact, pairing_accuracy, score

# Three blocks: inputs 0, 2, 4; outputs 1, 3, 5; last layer 6. Truth: 0,1,2,3,4,5,6.
ROLES = PieceRoles(inputs=(0, 2, 4), outputs=(1, 3, 5), last=6)
TRUTH = Assembly.from_permutation([0, 1, 2, 3, 4, 5, 6], ROLES)


def assembly(*perm: int) -> Assembly:
    return Assembly.from_permutation(list(perm), ROLES)


def swap_blocks(perm: list[int], a: int, b: int) -> list[int]:
    out = list(perm)
    out[2 * a : 2 * a + 2], out[2 * b : 2 * b + 2] = perm[2 * b : 2 * b + 2], perm[2 * a : 2 * a + 2]
    return out


def test_sha256_of_known_string() -> None:
    # sha256(b"0,1,2"): the ids joined by commas, no spaces.
    assert permutation_sha256([0, 1, 2]) == "c0be322c1ad6af50f418b96232d98fe25a36d5d0a557291833f8248f2084b8ef"
    assert format_permutation([12, 3, 15]) == "12,3,15"


def test_parse_permutation_tolerates_spaces_and_brackets() -> None:
    assert parse_permutation("[3, 1,2 ]") == [3, 1, 2]


def test_parse_permutation_rejects_words() -> None:
    with pytest.raises(PermutationError, match="not a comma-separated list of integers"):
        parse_permutation("1,two,3")


def test_mse_zero_for_truth_positive_for_wrong(synthetic) -> None:
    puzzle, answer = synthetic
    truth = list(answer.permutation)
    right = score(puzzle, truth, answer)
    assert right.mse < 1e-20 and right.exact is True and right.order_exact is True
    assert right.pairing_accuracy == 1.0 and right.kendall_tau == pytest.approx(1.0)

    swapped = swap_blocks(truth, 0, 5)
    wrong_order = score(puzzle, swapped, answer)
    assert wrong_order.mse > 1e-6 and wrong_order.exact is False and wrong_order.order_exact is False
    assert wrong_order.pairing_accuracy == 1.0 and wrong_order.kendall_tau < 1.0

    mispaired = list(truth)
    mispaired[1], mispaired[3] = truth[3], truth[1]  # exchange the output projections of blocks 1 and 2
    bad_pairs = score(puzzle, mispaired, answer)
    assert bad_pairs.mse > 1e-6 and bad_pairs.pairing_accuracy == pytest.approx(6 / 8)
    assert bad_pairs.order_exact is True


def test_score_without_answer(synthetic) -> None:
    puzzle, answer = synthetic
    s = score(puzzle, list(answer.permutation))
    assert s.exact is None and math.isnan(s.pairing_accuracy) and math.isnan(s.kendall_tau)
    assert s.sha256 == answer.sha256


def test_score_against_hash_only_answer(synthetic) -> None:
    puzzle, answer = synthetic
    hashed = Answer(sha256=answer.sha256)
    assert score(puzzle, list(answer.permutation), hashed).exact is True
    wrong = score(puzzle, swap_blocks(list(answer.permutation), 0, 1), hashed)
    assert wrong.exact is False and math.isnan(wrong.pairing_accuracy)


@pytest.mark.parametrize(("perm", "accuracy", "exact_order", "tau"), [
    ((0, 1, 2, 3, 4, 5, 6), 1.0, True, 1.0),
    ((2, 3, 0, 1, 4, 5, 6), 1.0, False, 1 / 3),  # first two blocks exchanged
    ((4, 5, 2, 3, 0, 1, 6), 1.0, False, -1.0),  # reversed
    ((0, 3, 2, 1, 4, 5, 6), 1 / 3, True, 1.0),  # two outputs exchanged
    ((2, 5, 4, 1, 0, 3, 6), 0.0, False, -1 / 3),  # every pair wrong, blocks rotated
])
def test_accuracies_on_hand_made_permutations(perm, accuracy, exact_order, tau) -> None:
    predicted = assembly(*perm)
    assert pairing_accuracy(predicted, TRUTH) == pytest.approx(accuracy)
    assert order_exact(predicted, TRUTH) is exact_order
    assert block_order_tau(predicted, TRUTH) == pytest.approx(tau)


@pytest.mark.parametrize(("perm", "message"), [
    ([0, 1, 2, 3, 4, 5], "has 6 ids, the puzzle has 7 pieces"),
    ([0, 1, 2, 3, 4, 4, 6], "missing [5], repeated [4]"),
    ([0, 1, 2, 3, 4, 5, 7], "missing [6]"),
    ([1, 0, 2, 3, 4, 5, 6], "position 0 (block 1 input) holds piece 1, not an input projection"),
    ([0, 2, 1, 3, 4, 5, 6], "position 1 (block 1 output) holds piece 2, not an output projection"),
    ([0, 1, 2, 3, 6, 5, 4], "not an input projection"),
])
def test_invalid_permutations(perm, message) -> None:
    with pytest.raises(PermutationError) as info:
        Assembly.from_permutation(perm, ROLES)
    assert message in str(info.value)

