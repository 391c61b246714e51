"""The benchmark harness: plan runs (puzzles × solvers), run each in an isolated process,
store one flat row per run, and report tables and plots from the stored rows only.

Modules: :mod:`~reassembly.harness.plan` (what to run), :mod:`~reassembly.harness.runner`
(one solve in a spawned worker with a timeout), :mod:`~reassembly.harness.results` (rows on
disk, resume), :mod:`~reassembly.harness.report` (summary table and plot),
:mod:`~reassembly.harness.environment` (where a row was measured), :mod:`~reassembly.harness.plugins`
(``--imports``).
"""
