"""One self-contained HTML page of stored results: where they were measured, per task a summary
(each column naming its statistic, the spread across seeds beside it) and its figure set, the
generator settings, and every run in a table that sorts and filters (a few lines of inline JS)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reassembly.harness.plots import by_task, overview, profiles
from reassembly.harness.summary import failed_text, normalise, summarize
from reassembly.tasks import get_task

if TYPE_CHECKING:
    import pandas as pd

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}th.s{cursor:pointer}
td.l,th.l{text-align:left}img{max-width:100%}.bad{color:#b00}.good{color:#070}.dim{color:#777}
input{padding:4px;width:24em}caption{text-align:left;color:#555;caption-side:bottom;font-size:12px}"""
SCRIPT = """document.querySelectorAll('table.runs').forEach(t=>{const b=t.tBodies[0];
t.querySelectorAll('th').forEach((h,i)=>{h.classList.add('s');h.onclick=()=>{const d=h.dataset.d=h.dataset.d==='1'?'-1':'1';
const rs=[...b.rows];const k=r=>{const v=r.cells[i].dataset.v??r.cells[i].textContent;const n=parseFloat(v);return isNaN(n)?v:n};
rs.sort((x,y)=>{const a=k(x),c=k(y);return (a>c?1:a<c?-1:0)*d});rs.forEach(r=>b.appendChild(r))}})});
const f=document.getElementById('filter');if(f)f.oninput=()=>{const q=f.value.toLowerCase().split(/\\s+/).filter(Boolean);
document.querySelectorAll('table.runs tbody tr').forEach(r=>{const t=r.textContent.toLowerCase();
r.style.display=q.every(w=>t.includes(w))?'':'none'})};"""
ENV_FIELDS = (
    ("cpu", "CPU"),
    ("cpu_count", "cores"),
    ("torch", "torch"),
    ("python", "Python"),
    ("reassembly", "reassembly"),
    ("git_commit", "commit"),
    ("platform", "platform"),
)


def _e(value: Any) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value))


def _num(v: Any, spec: str) -> str:
    return "–" if v is None or v != v else format(v, spec)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode()


def _table(head: list[str], rows: list[list[str]], cls: str = "", caption: str = "") -> str:
    """An HTML table; ``head`` and cells are HTML already (a cell may carry ``data-v`` to sort by)."""
    th = "".join(f"<th class=l>{h}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(c if c.startswith("<td") else f"<td class=l>{c}</td>" for c in r) + "</tr>" for r in rows
    )
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table class='{cls}'>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def environment(df: pd.DataFrame) -> str:
    """Where the runs were measured: each ``env.*`` fact (every distinct value), torch threads, dates."""
    rows = []
    for key, label in ENV_FIELDS:
        col = f"env.{key}"
        if col in df:
            rows.append([label, _e(", ".join(str(v) for v in dict.fromkeys(df[col].dropna())) or "–")])
    if "torch_threads" in df:
        rows.append(
            [
                "torch threads per solve",
                _e(", ".join(str(int(v)) for v in sorted(set(df["torch_threads"].dropna()))) or "–"),
            ]
        )
    if "finished_at" in df and df["finished_at"].notna().any():
        rows.append(["finished", _e(f"{df['finished_at'].dropna().min()} to {df['finished_at'].dropna().max()}")])
    return "<h2>Environment</h2>" + _table(["fact", "value"], rows)


def generator_settings(df: pd.DataFrame) -> str:
    """The generator's options (``config.*``) per puzzle suite; options equal everywhere once, above."""
    cols = [c for c in df.columns if c.startswith("config.") and c != "config.seed"]
    if not cols:
        return ""
    puzzles = df.drop_duplicates("puzzle")
    same = [c for c in cols if puzzles[c].astype(str).nunique() == 1]
    varying = [c for c in cols if c not in same]
    common = ", ".join(f"{c.removeprefix('config.')}={puzzles[c].iloc[0]}" for c in same if puzzles[c].notna().any())
    suites = puzzles.drop_duplicates("suite")
    rows = [
        [
            _e(r["suite"]),
            _e(r["task"]),
            _e(
                ", ".join(
                    str(int(s)) for s in sorted(set(puzzles.loc[puzzles["suite"] == r["suite"], "seed"].dropna()))
                )
            ),
        ]
        + [_e(r[c]) for c in varying]
        for _, r in suites.iterrows()
    ]
    head = ["suite", "task", "seeds", *(_e(c.removeprefix("config.")) for c in varying)]
    return f"<h2>Generator settings</h2><p class=dim>All puzzles: {_e(common) or '–'}</p>" + _table(head, rows)


def _spread(g: pd.DataFrame, column: str, spec: str) -> str:
    values = g[column].dropna() if column in g else []
    return (
        ""
        if len(values) < 2
        else f" <span class=dim>({format(values.min(), spec)}–{format(values.max(), spec)})</span>"
    )


def task_summary(df: pd.DataFrame, task: str) -> str:
    """The task's summary: a row per (suite, variant); each header names its statistic, and the
    range across seeds (min–max over the runs) follows each value where there are several runs."""
    s = summarize(df)
    columns = (
        [
            ("grouping_accuracy", "grouping (mean)", "grouping_accuracy", ".1%"),
            ("kendall_tau", "τ (mean)", "kendall_tau", ".3f"),
            ("mse_median", "MSE (median)", "mse", ".2e"),
        ]
        if not get_task(task).columns
        else [(f"{c.name}_{c.how}", f"{c.label} ({c.how})", c.name, c.fmt) for c in get_task(task).columns]
    )
    columns.append(("seconds_median", "seconds (median)", "seconds", ".2f"))
    rows = []
    scored = df[df["status"].isin(["ok", "timeout"])]
    for r in s.itertuples():
        g = scored[(scored["suite"] == r.suite) & (scored["variant"] == r.variant)]
        exact = (
            f"<td class={'good' if r.exact == r.runs and r.runs else 'bad'}>{r.exact}/{r.runs}</td>"
            if r.answer_known
            else "<td>–</td>"
        )
        cells = [_e(r.suite), _e(r.variant), exact]
        cells += [f"<td>{_num(getattr(r, key), spec)}{_spread(g, col, spec)}</td>" for key, _, col, spec in columns]
        cells.append(_e(failed_text(r)))
        rows.append(cells)
    head = ["puzzles", "solver", "exact (runs)", *(_e(label) for _, label, _, _ in columns), "failed"]
    return _table(
        head,
        rows,
        caption="Each value is the statistic its header names over the runs of the row; "
        "(min–max) is its spread across the runs (seeds). Unsupported runs are not counted.",
    )


def runs_table(df: pd.DataFrame) -> str:
    """Every run, one row each; click a header to sort, type in the box to filter."""
    metrics = list(dict.fromkeys([c.name for t in dict.fromkeys(df["task"]) for c in get_task(str(t)).columns]))
    spec = [
        ("task", None),
        ("puzzle", None),
        ("seed", ".0f"),
        ("variant", None),
        ("status", None),
        ("exact", None),
        ("grouping_accuracy", ".1%"),
        ("kendall_tau", ".3f"),
        ("mse", ".2e"),
        *((m, ".3g") for m in metrics if m not in ("grouping_accuracy", "kendall_tau")),
        ("seconds", ".2f"),
        ("evaluations", ",.0f"),
        ("error", None),
    ]
    rows = []
    for _, r in df.iterrows():
        cells = []
        for col, fmt in spec:
            v = r.get(col)
            if col == "exact":
                v = (
                    ("yes" if r["exact"] else "no")
                    if r["exact_known"] and r["status"] in ("ok", "timeout") and r.get("mse") == r.get("mse")
                    else ""
                )
            if fmt is None:
                cells.append(f"<td class=l>{_e(v)}</td>")
            else:
                num = v if isinstance(v, (int, float)) and v == v else None
                cells.append(f"<td data-v='{'' if num is None else num}'>{_num(num, fmt)}</td>")
        rows.append(cells)
    head = [_e(c.replace("_", " ")) for c, _ in spec]
    return "<h2>Runs</h2><p><input id=filter placeholder='filter: words that every shown row contains'></p>" + _table(
        head, rows, "runs"
    )


def page(df: pd.DataFrame, title: str) -> str:
    """The HTML text.

    Parameters
    ----------
    df
        Result rows (any tasks).
    title
        The page's title.
    """
    df = normalise(df)
    parts = [
        f"<h1>{_e(title)}</h1><p>{len(df)} runs. Exact: the answer is, or computes, the true network.</p>",
        environment(df),
    ]
    for task, rows in by_task(df).items():
        name = f"task {task}: {get_task(task).description}"
        parts.append(
            f"<h2>{_e(name)}</h2>"
            + task_summary(rows, task)
            + f"<img alt='overview, task {_e(task)}' src='data:image/png;base64,{_png(overview(rows))}'>"
            + f"<img alt='profiles, task {_e(task)}' src='data:image/png;base64,{_png(profiles(rows))}'>"
        )
    parts += [generator_settings(df), runs_table(df)]
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}<script>{SCRIPT}</script></body></html>"
    )


def write(df: pd.DataFrame, path: str | Path, title: str = "reassembly results") -> Path:
    """Write :func:`page` to ``path`` (folders are created).

    Parameters
    ----------
    df
        Result rows.
    path
        The HTML file.
    title
        The page's title.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(df, title))
    return out
