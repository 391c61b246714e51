"""A bench run, apart from its command line: plan, run (local pool or Dask), judge, store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reassembly.errors import PermutationError
from reassembly.harness.claims import solved as solved_claims
from reassembly.harness.environment import environment
from reassembly.harness.plan import Run
from reassembly.harness.referee import Referee
from reassembly.harness.results import ResultStore, make_row
from reassembly.harness.runner import Outcome, RunOptions, run_many
from reassembly.tasks import get_task

ANYTIME_CLAIMS = ("evaluations", "trace", "certificate")  # what a row keeps of a reported answer besides its scores


def default_jobs() -> int:
    """One solve per usable core not already busy (:func:`reassembly.machine.free_cores`), at least one."""
    from reassembly.machine import free_cores

    return free_cores()


@dataclass
class Finished:
    run: Run
    row: dict[str, Any]


def torch_threads(options: RunOptions) -> int:
    """The threads every solve's torch uses (the bench sets them, or torch's default here)."""
    if options.threads:
        return int(options.threads)
    import torch

    return torch.get_num_threads()


def judge(referee: Referee, run: Run, outcome: Outcome) -> tuple[str, dict[str, Any], str | None]:
    """Status, fields and error of a run once the referee has scored what came back. Facts come
    from the referee's copy of the problem; any fault in judging is the run's error row. A timed-out
    run's last reported answer (anytime) is kept to the same typed claims as a final one and judged
    the same way; the row stays ``timeout``."""
    status, fields, error = outcome.status, dict(outcome.fields), outcome.error
    reported, unreadable = fields.pop("anytime", None), fields.pop("anytime_error", None)
    try:
        facts = referee.facts(run.puzzle)
    except Exception as exc:
        return "error", fields, f"the referee cannot read the problem: {str(exc)[:300]}"
    if status == "solved":
        try:
            fields.update(referee.judge(run.puzzle, fields))
            status = "ok"
        except PermutationError as exc:
            status, error = "error", f"invalid answer: {str(exc)[:1000]}"
        except Exception as exc:  # an answer of a shape the task's judge did not expect
            status, error = "error", f"invalid answer: {type(exc).__name__}: {str(exc)[:300]}"
    elif status == "timeout" and reported is not None:  # the last answer reported, judged as a final one
        try:
            kept = solved_claims(
                reported if isinstance(reported, dict) else {}, get_task(run.puzzle.task).answer_fields
            )
            scores = referee.judge(run.puzzle, kept)
            fields = {**{k: v for k, v in kept.items() if k in ANYTIME_CLAIMS}, **fields, **scores}
            error = f"{error}; scored its last reported answer"
        except Exception as exc:  # invalid or malformed: the row keeps no scores, and says why
            error = f"{error}; its last reported answer is invalid: {type(exc).__name__}: {str(exc)[:300]}"
    elif unreadable:
        error = f"{error}; {unreadable}"
    fields.update(facts)
    return status, fields, error


def execute(
    runs: list[Run],
    store: ResultStore,
    options: RunOptions,
    jobs: int,
    scheduler: str | None,
    on_done: Callable[[Finished], None],
) -> None:
    """Run ``runs``, judge each as it finishes and append its row to ``store``."""
    referee = Referee()
    env = environment()
    for run in runs:  # the referee holds its own copy of every puzzle before any solver sees one
        referee.prepare(run.puzzle)

    threads = torch_threads(options)

    def done(run: Run, outcome: Outcome) -> None:
        status, fields, error = judge(referee, run, outcome)
        fields["torch_threads"] = threads
        try:
            row = make_row(run, status, fields, error, outcome.wall_seconds, options.timeout, env)
        except Exception as exc:  # never lose the bench to one run's odd fields
            kept = {k: fields.get(k) for k in ("seconds", "family", "depth", "rows", "torch_threads")}
            row = make_row(
                run,
                "error",
                kept,
                f"cannot record the run: {type(exc).__name__}: {str(exc)[:200]}",
                outcome.wall_seconds,
                options.timeout,
                env,
            )
        store.append(row)
        on_done(Finished(run, row))

    if scheduler:
        from reassembly.harness.dask_runner import run_many_dask

        run_many_dask(runs, options, scheduler, jobs, done)
    else:
        run_many(runs, options, jobs=jobs, on_done=done)
