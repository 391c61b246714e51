"""Runs on a Dask cluster (the optional extra ``reassembly[dask]``): the same isolated runs as the
local pool, each still solving in a process group of its own on the worker; the rows are made and
judged here, so they are the same as the local pool's.

``scheduler`` is ``local`` (a ``LocalCluster`` of ``jobs`` single-threaded worker processes on
this machine) or a scheduler address such as ``tcp://host:8786``. Workers must be able to read the
output directory (a shared filesystem) and must not be daemonic, since each run starts a process
(``dask worker --no-nanny`` or ``distributed.worker.daemon: false``; ``local`` sets this).
"""

from __future__ import annotations

from collections.abc import Callable

from reassembly.errors import ConfigError
from reassembly.harness.plan import Run
from reassembly.harness.runner import Outcome, RunOptions, run_isolated


def _task(run: Run, options: RunOptions) -> Outcome:
    return run_isolated(run, options)


def run_many_dask(
    runs: list[Run], options: RunOptions, scheduler: str, jobs: int, on_done: Callable[[Run, Outcome], None]
) -> None:
    """Submit every run to Dask and call ``on_done`` here as each finishes."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError('--scheduler needs the Dask extra: pip install -e ".[dask]"') from None
    with dask.config.set({"distributed.worker.daemon": False, "distributed.scheduler.work-stealing": False}):
        if scheduler == "local":
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            cluster = None
            try:
                client = Client(scheduler, timeout="5s")
            except (OSError, ValueError, TypeError) as exc:
                raise ConfigError(f"--scheduler {scheduler[:100]}: cannot connect ({str(exc)[:200]})") from None
        try:
            futures = {client.submit(_task, run, options, pure=False, key=f"run-{run.key}"): run for run in runs}
            try:
                for future in as_completed(futures):
                    run = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the Dask worker itself died or the task could not run
                        outcome = Outcome("error", {}, f"Dask task failed: {type(exc).__name__}: {exc}")
                    on_done(run, outcome)
            except BaseException:
                client.cancel(list(futures))
                raise
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
