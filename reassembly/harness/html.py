"""One self-contained HTML page of stored results: summary, failed runs, plots (inline PNGs)."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from reassembly.harness.plots import overview, profiles
from reassembly.harness.summary import failed_text, normalise, summarize

if TYPE_CHECKING:
    import pandas as pd

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}img{max-width:100%}.bad{color:#b00}.good{color:#070}"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode()


def _num(v: float, spec: str) -> str:
    return "–" if v != v else format(v, spec)


def page(df: "pd.DataFrame", title: str) -> str:
    """The HTML text."""
    df = normalise(df)
    s = summarize(df)
    head = ("<tr><th class=l>task</th><th class=l>puzzles</th><th class=l>solver</th><th>exact</th><th>grouping</th>"
            "<th>τ</th><th>MSE</th><th>seconds</th><th>evaluations</th><th class=l>failed</th></tr>")
    rows = "".join(
        f"<tr><td class=l>{html.escape(str(r.task))}</td><td class=l>{html.escape(str(r.suite))}</td>"
        f"<td class=l>{html.escape(str(r.variant))}</td>"
        f"<td class={'good' if r.exact == r.runs and r.runs else 'bad'}>{r.exact}/{r.runs}</td>"
        f"<td>{_num(r.grouping_accuracy, '.1%')}</td><td>{_num(r.kendall_tau, '.3f')}</td><td>{_num(r.mse_median, '.2e')}</td>"
        f"<td>{_num(r.seconds_median, '.2f')}</td><td>{_num(r.evaluations_median, ',.0f')}</td>"
        f"<td class=l>{html.escape(failed_text(r))}</td></tr>" for r in s.itertuples())
    bad = df[df["status"] != "ok"]
    failed = "".join(f"<tr><td class=l>{html.escape(str(r.puzzle))}</td><td class=l>{html.escape(str(r.variant))}</td>"
                     f"<td class=l>{html.escape(str(r.status))}</td><td class=l>{html.escape(str(r.error or ''))[:300]}</td></tr>"
                     for r in bad.itertuples())
    failed_html = (f"<h2>Runs without a scored answer ({len(bad)})</h2><table><tr><th class=l>puzzle</th><th class=l>solver</th>"
                   f"<th class=l>status</th><th class=l>message</th></tr>{failed}</table>") if len(bad) else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{len(df)} runs. Exact: the answer is, or computes, the true network.</p>"
            f"<h2>Summary</h2><table>{head}{rows}</table>{failed_html}"
            f"<h2>Runs</h2><img alt='overview' src='data:image/png;base64,{_png(overview(df))}'>"
            f"<h2>Runtime distributions and performance profiles</h2>"
            f"<img alt='profiles' src='data:image/png;base64,{_png(profiles(df))}'></body></html>")


def write(df: "pd.DataFrame", path: str | Path, title: str = "reassembly results") -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(df, title))
    return out
