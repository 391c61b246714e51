"""A bench run, apart from its command line: plan, run (local pool or Dask), judge, store."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from reassembly.errors import PermutationError
from reassembly.harness.environment import environment
from reassembly.harness.plan import Run
from reassembly.harness.referee import Referee
from reassembly.harness.results import ResultStore, make_row
from reassembly.harness.runner import Outcome, RunOptions, run_many


def default_jobs() -> int:
    """One solve per core not already busy (the load average), at least one."""
    cores = os.cpu_count() or 1
    try:
        busy = int(round(os.getloadavg()[0]))
    except OSError:
        busy = 0
    return max(1, cores - busy)


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
    from the referee's copy of the problem; any fault in judging is the run's error row."""
    status, fields, error = outcome.status, dict(outcome.fields), outcome.error
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
    fields.update(facts)
    return status, fields, error


def execute(runs: list[Run], store: ResultStore, options: RunOptions, jobs: int, scheduler: str | None,
            on_done: Callable[[Finished], None]) -> None:
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
            row = make_row(run, "error", kept, f"cannot record the run: {type(exc).__name__}: {str(exc)[:200]}",
                           outcome.wall_seconds, options.timeout, env)
        store.append(row)
        on_done(Finished(run, row))

    if scheduler:
        from reassembly.harness.dask_runner import run_many_dask

        run_many_dask(runs, options, scheduler, jobs, done)
    else:
        run_many(runs, options, jobs=jobs, on_done=done)
