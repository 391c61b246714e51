"""Summary tables of tasks with metrics of their own (every task but layer reassembly): the
generic columns (puzzles, solver, exact, seconds, failures) around the task's columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reassembly.harness.summary import _fmt, failed_text, summary_table
from reassembly.tasks import get_task

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table


def task_table(summary: pd.DataFrame, task: str, title: str, width: int | None = None) -> Table:
    """The summary rows of ``task`` as a rich table; in a narrow terminal the task's later columns
    and the seconds go first, never the run counts or the failures."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    spec = get_task(task).columns
    columns = [("puzzles", "left", 0), ("solver", "left", 0), ("exact", "right", 0)]
    columns += [(c.label, "right", 1 + i) for i, c in enumerate(spec)]
    columns += [("s", "right", 1 + len(spec)), ("max s", "right", 2 + len(spec)), ("failed", "left", 0)]
    keep = max(p for _, _, p in columns)
    while keep > 1 and sum(16 if p == 0 else 10 for _, _, p in columns if p <= keep) > (width or 200):
        keep -= 1
    shown = [(n, j) for n, j, p in columns if p <= keep]
    caption = "; ".join(f"{c.label}: {c.how} of {c.name}" for c in spec) + "; s: median"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, caption_justify="left", caption=caption)
    for name, justify in shown:
        text = name in ("puzzles", "solver", "failed")
        table.add_column(name, justify=justify, overflow="fold", no_wrap=not text, min_width=8 if text else None)  # type: ignore[arg-type]
    for r in summary.itertuples():
        style = "green" if r.exact == r.runs and r.runs else ("red" if r.exact == 0 else "yellow")
        cells: dict[str, Any] = {
            "puzzles": escape(str(r.suite)),
            "solver": escape(str(r.variant)),
            "exact": f"[{style}]{r.exact}/{r.runs}[/]" if r.answer_known else "–",
            "s": _fmt(r.seconds_median, ".1f"),
            "max s": _fmt(r.seconds_max, ".1f"),
            "failed": failed_text(r),
        }
        for c in spec:
            cells[c.label] = _fmt(getattr(r, f"{c.name}_{c.how}", float("nan")), c.fmt)
        table.add_row(*(cells[n] for n, _ in shown))
    return table


def tables(summary: pd.DataFrame, title: str, width: int | None = None) -> list[Table]:
    """One table per task in the summary (layer reassembly's as before)."""
    out = []
    tasks = list(dict.fromkeys(summary["task"])) if len(summary) else ["reassembly"]
    for task in tasks:
        part = summary[summary["task"] == task] if len(summary) else summary
        named = title if len(tasks) == 1 and task == "reassembly" else f"{title}: task {task}"
        out.append(
            task_table(part, task, named, width) if get_task(task).columns else summary_table(part, named, width)
        )
    return out


def headline(row: dict[str, Any]) -> str:
    """A scored run in a few words (the bench's progress lines)."""
    task = get_task(row.get("task") or "reassembly")
    if not task.columns:
        return "exact" if row.get("exact") else f"mse {row.get('mse', float('nan')):.2e}"
    parts = ["exact" if row.get("exact") else "not exact"]
    for c in task.columns[:4]:
        value = row.get(c.name)
        if isinstance(value, (int, float)) and value == value:
            parts.append(f"{c.label} {format(value, c.fmt)}")
    return ", ".join(parts)
