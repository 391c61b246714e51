"""Check the HTML report in a real headless browser and save a screenshot in docs/.

    python docs/studies/report_screenshot.py RESULTS_DIR [--out docs/report.png]

Writes ``RESULTS_DIR``'s page with ``reassembly report --html``, opens it in headless Chromium
(Debian: ``apt-get install -y chromium``; also found as ``chromium-browser`` or ``google-chrome``),
checks through the browser's DOM that the page rendered its tables and figures and that the
runs table sorts and filters (``--dump-dom`` after a script has clicked and typed), and saves a
full-width screenshot. docs/report.png was made from a folder with three tasks and twelve variants:

    reassembly bench --depth 8 --seeds 3 -s "fast[search__patience=[5,10,20,40,80]]" -s paper -s cosine -s paper-hillclimb --out runs/report
    reassembly bench --task resync --depth 8 --seeds 3 --out runs/report
    reassembly bench --task query --depth 8 --seeds 3 --out runs/report
    python docs/studies/report_screenshot.py runs/report
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import DOCS  # beside this script

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "headless_shell")
PROBE = """<script>addEventListener('load',()=>{const t=document.querySelector('table.runs');
const ths=[...t.querySelectorAll('th')];const i=ths.findIndex(h=>h.textContent==='seconds');ths[i].click();
const v=[...t.tBodies[0].rows].map(r=>parseFloat(r.cells[i].dataset.v)).filter(x=>!isNaN(x));
const sorted=v.length>1&&v.every((x,k)=>k===0||v[k-1]<=x);const f=document.getElementById('filter');f.value='resync';
f.dispatchEvent(new Event('input'));const shown=[...t.tBodies[0].rows].filter(r=>r.style.display!=='none').length;
document.body.setAttribute('data-probe',JSON.stringify({sorted,shown,total:t.tBodies[0].rows.length,
images:[...document.images].filter(i=>i.naturalWidth>0).length}))})</script>"""


def browser() -> str:
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    sys.exit("no headless Chromium found: apt-get install -y chromium (or set PATH)")


def run(exe: str, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=180)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=DOCS / "report.png")
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()
    exe = browser()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        subprocess.run(
            [sys.executable, "-m", "reassembly", "report", str(args.results), "--html", str(page)],
            check=True,
            capture_output=True,
        )
        probed = Path(tmp) / "probe.html"
        probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
        dom = run(exe, "--dump-dom", probed.as_uri()).stdout
        start = dom.find("data-probe=")
        if start < 0:
            sys.exit("the page did not run its script in the browser")
        import html
        import json

        quote = dom[start + len("data-probe=")]
        probe = json.loads(
            html.unescape(dom[start + len("data-probe=") + 1 : dom.index(quote, start + len("data-probe=") + 1)])
        )
        print(f"browser check: {probe}")
        assert probe["sorted"] and 0 < probe["shown"] < probe["total"] and probe["images"] >= 2, probe
        shot = run(exe, f"--screenshot={args.out.resolve()}", f"--window-size=1400,{args.height}", page.as_uri())
        if not args.out.is_file():
            sys.exit(f"no screenshot written: {shot.stderr[-500:]}")
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
