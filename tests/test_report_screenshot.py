"""The report reads in a 1,400 px window: a headless browser (Debian's chromium) renders
index.html of a report the size of the committed one (every method of params.yaml, four RobotCar
conditions + a Pittsburgh-style set, three seeds so that every cell carries its ± spread, five
methods that kept their initial weights merged with the untrained network), takes a screenshot
(kept under pytest's tmp folder) and measures, in a copy of the page with a small script appended,
every table's right edge and the page's scroll width. Skipped only when chromium is absent
(`make test` installs it when it can)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from softloc.io import write_json
from softloc.params import read_params_yaml
from softloc.report import build_report
from test_report import ROOT, fake_params, write_layout

WIDTH = 1400
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
KEPT = ["soft_paper", "quadruplet", "lazy_triplet", "lazy_quadruplet", "multisimilarity"]
SEEDS = [0, 1, 2]

# Appended to a copy of the page: every table's right edge (the table and its rightmost cell: a
# table inside an overflow box is clipped, not scrolled with the page, so the page width alone
# would not show it), the title of the section it is in, and the page's scroll width.
MEASURE = """<script>
(() => {
  const tables = Array.from(document.querySelectorAll("table")).map(table => {
    let node = table.closest("div") || table;
    while (node && node.tagName !== "H2") node = node.previousElementSibling;
    const cells = Array.from(table.querySelectorAll("th, td")).map(c => c.getBoundingClientRect().right);
    return {section: node ? node.textContent : "", right: table.getBoundingClientRect().right,
            cells_right: Math.max(...cells)};
  });
  const root = document.documentElement;
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({scroll_width: root.scrollWidth, client_width: root.clientWidth, tables});
  document.body.appendChild(out);
})();
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    """One headless chromium run at WIDTH x 1000 with nothing fetched from the network."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", f"--window-size={WIDTH},1000", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "HOME": str(profile)})


def build_full_size(root: Path) -> Path:
    """A report with the project's methods, 4 + 1 conditions, 3 seeds; KEPT methods retrieved
    exactly what the untrained network did (best step 0). Returns index.html."""
    methods = read_params_yaml(ROOT / "params.yaml")["methods"]
    params = fake_params(methods, seeds=SEEDS, resamples=100)
    write_layout(root, params.methods, seeds=SEEDS, road_m=150,
                 conditions_on_road=("night", "overcast", "snow", "sunny"), scattered=120)
    for method in KEPT:
        for part in ("reports/eval", "data/eval"):
            shutil.rmtree(root / part / method)
            shutil.copytree(root / part / "offtheshelf", root / part / method)
        for seed in SEEDS:
            write_json({"best_step": 0}, root / "reports/train" / method / f"seed{seed}" / "metrics.json")
    (root / "params.yaml").write_text("seeds: [0, 1, 2]\n")
    return build_report(params, root)["index"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it as root)")
def test_every_column_of_table_1_is_visible_at_1400_px(tmp_path: Path) -> None:
    index = build_full_size(tmp_path / "project")
    page = index.read_text()
    assert "Off-the-shelf (= 5 methods that kept their initial weights)" in page
    profile = tmp_path / "chromium-profile"
    screenshot = tmp_path / "index_1400.png"       # the artifact: what a reader sees
    chromium(f"--screenshot={screenshot}", index.as_uri(), profile=profile)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    measured_page = index.with_name("index_measured.html")   # beside index.html: its figures resolve
    measured_page.write_text(page.replace("</body>", MEASURE + "</body>"))
    dom = chromium("--dump-dom", measured_page.as_uri(), profile=profile).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, f"the measuring script left nothing in the DOM:\n{dom[-2000:]}"
    measured = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    (tmp_path / "measured.json").write_text(json.dumps(measured, indent=1))
    print(json.dumps(measured))
    table1 = [t for t in measured["tables"] if t["section"].startswith("Table 1")]
    assert len(table1) == 2                                   # accuracy, then intervals / gains / validation
    for table in table1:
        assert max(table["right"], table["cells_right"]) <= measured["client_width"] <= WIDTH, table
    assert measured["scroll_width"] <= measured["client_width"], measured
