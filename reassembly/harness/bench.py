"""A bench run, apart from its command line: plan, run (local pool or Dask), judge, store."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from reassembly.errors import PermutationError
from reassembly.harness.environment import environment
from reassembly.harness.plan import Run
from reassembly.harness.referee import Referee
from reassembly.harness.results import ResultStore, make_row
from reassembly.harness.runner import Outcome, RunOptions, run_many


ANYTIME_CLAIMS = ("evaluations", "trace", "certificate")  # what a row keeps of a reported answer besides its scores


def default_jobs() -> int:
    """One solve per usable core not already busy (:func:`reassembly.machine.free_cores`), at least one."""
    from reassembly.machine import free_cores

    return free_cores()


@dataclass
class Finished:
    run: Run
    row: dict[str, Any]


def judge(referee: Referee, run: Run, outcome: Outcome) -> tuple[str, dict[str, Any], str | None]:
    """Status, fields and error of a run once the referee has scored what came back."""
    status, fields, error = outcome.status, dict(outcome.fields), outcome.error
    claims, unreadable = fields.pop("anytime", None), fields.pop("anytime_error", None)
    if status == "solved":
        try:
            fields.update(referee.judge(run.puzzle, fields))
            status = "ok"
        except PermutationError as exc:
            status, error = "error", f"invalid answer: {exc}"
    elif status == "timeout" and claims is not None:  # the last answer reported, judged as a final one
        try:
            scores = referee.judge(run.puzzle, claims)
            fields = {**{k: v for k, v in claims.items() if k in ANYTIME_CLAIMS}, **fields, **scores}
            error = f"{error}; scored its last reported answer"
        except PermutationError as exc:
            error = f"{error}; its last reported answer is invalid: {exc}"
    elif unreadable:
        error = f"{error}; {unreadable}"
    return status, fields, error


def execute(runs: list[Run], store: ResultStore, options: RunOptions, jobs: int, scheduler: str | None,
            on_done: Callable[[Finished], None]) -> None:
    """Run ``runs``, judge each as it finishes and append its row to ``store``."""
    referee = Referee()
    env = environment()
    for run in runs:  # the referee holds its own copy of every puzzle before any solver sees one
        referee.prepare(run.puzzle)

    def done(run: Run, outcome: Outcome) -> None:
        status, fields, error = judge(referee, run, outcome)
        row = make_row(run, status, fields, error, outcome.wall_seconds, options.timeout, env)
        store.append(row)
        on_done(Finished(run, row))

    if scheduler:
        from reassembly.harness.dask_runner import run_many_dask

        run_many_dask(runs, options, scheduler, jobs, done)
    else:
        run_many(runs, options, jobs=jobs, on_done=done)
