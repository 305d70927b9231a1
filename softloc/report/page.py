"""reports/index.html and reports/table1.md: the tables, figures and provenance on one page.

The page carries the list of files it summarises with their SHA-256 (softloc.report.provenance)
and, when served over http, checks them in the browser and shows a red banner if any changed.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from softloc.params import read_params_yaml
from softloc.report.grid import Grid
from softloc.report.provenance import GitState

STYLE = ("body{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;font-size:85%;margin:0.5em 0 1em}tbody th{min-width:11em}"
         ".wide{overflow-x:auto}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}tbody th{text-align:left;font-weight:normal}"
         "table.left td{text-align:left}img{max-width:100%}pre{background:#f4f4f4;padding:1em;overflow:auto}"
         ".banner{padding:0.6em 1em;border-radius:4px;margin:1em 0}.stale{background:#fdd;border:2px solid #c00}"
         ".fresh{background:#dfd;border:1px solid #4a4}.unchecked{background:#eee;border:1px solid #999}"
         ".dirty{background:#ffd;border:1px solid #cc0}")

# The page's own freshness check: fetch every recorded input relative to the project root (the
# page lives in reports/), hash it and compare. Browsers refuse fetch() on file:// pages.
CHECK_SCRIPT = """
(async () => {
  const box = document.getElementById("freshness");
  const inputs = JSON.parse(document.getElementById("report-inputs").textContent).inputs;
  if (location.protocol === "file:" || !(window.crypto && crypto.subtle)) {
    box.className = "banner unchecked";
    box.textContent = "Freshness not checked: a page opened from disk cannot read the files it summarises. " +
      "Run `python -m softloc.report --check` in the project, or serve it (`python -m http.server` in the " +
      "project root, then open /reports/index.html) to have this page check itself.";
    return;
  }
  const changed = [];
  let checked = 0;
  for (const [path, digest] of Object.entries(inputs)) {
    let response;
    try { response = await fetch("../" + path, {cache: "no-store"}); } catch (e) { continue; }
    if (!response.ok) continue;
    const bytes = await crypto.subtle.digest("SHA-256", await response.arrayBuffer());
    const hex = Array.from(new Uint8Array(bytes), b => b.toString(16).padStart(2, "0")).join("");
    checked += 1;
    if (hex !== digest) changed.push(path);
  }
  if (changed.length) {
    box.className = "banner stale";
    const shown = changed.slice(0, 5).join(", ") + (changed.length > 5 ? ", and " + (changed.length - 5) + " more" : "");
    box.textContent = "STALE: this report is older than " + changed.length + " of the files it summarises (" +
      shown + "). Rerun `dvc repro report`.";
  } else {
    box.className = "banner fresh";
    box.textContent = "Current: all " + checked + " of the files this report summarises that are present match it.";
  }
})();
"""


@dataclass(frozen=True)
class Section:
    """One titled block of the page: a lead paragraph and tables/figures (HTML and markdown)."""

    title: str
    text: str
    grids: list[Grid]
    images: list[tuple[str, str]]   # (relative path, alt text)
    notes: list[str]


def provenance_lines(git: GitState, raw_root: str, seeds: list[int],
                     differences: list[tuple[str, Any, Any, str]]) -> list[str]:
    """Where the report comes from: the commit, the training data (params data.raw_root), the seeds
    and the params that differ from the paper's settings."""
    lines = [f"Made from {git.describe()}.",
             f"Data: {raw_root} (training); test sets below. Seeds: {', '.join(str(s) for s in seeds)}."]
    if differences:
        lines.append("Params that differ from the paper's settings: " + "; ".join(
            f"{k} = {_value(ours)} (paper: {_value(paper)}, {where})" for k, ours, paper, where in differences) + ".")
    return lines


def params_text(path: Path) -> str:
    """The params file as the page shows it: YAML of what PyYAML reads (the user's keys, values and
    order, comments left out)."""
    return yaml.safe_dump(read_params_yaml(path), sort_keys=False, default_flow_style=None)


def markdown_page(title: str, git: GitState, provenance: list[str], sections: list[Section],
                  references: dict[str, str], check_command: str) -> str:
    """table1.md: provenance, then every section with tables or text alone: its text, tables and notes
    (figures, and the sections that only show figures, are in index.html only)."""
    out = [f"# {title}", ""]
    if git.dirty:
        out += [f"**Made from a DIRTY checkout**: {', '.join(git.changed)}.", ""]
    out += [*provenance, "",
            f"Is this still current? `{check_command}` compares the files it summarises with the ones on disk.", ""]
    for s in sections:
        if not s.grids and s.images:
            continue
        out += [f"## {s.title}", "", s.text, ""]
        for g in s.grids:
            out += [g.markdown()]
        out += [*s.notes, ""] if s.notes else []
    out += ["## References", "", *[f"- [{k}] {v}" for k, v in references.items()], ""]
    return "\n".join(out)


def html_page(title: str, git: GitState, provenance: list[str], sections: list[Section], references: dict[str, str],
              params_yaml: str, manifest_text: str, check_command: str) -> str:
    """index.html: the same content with figures, the params (`params_yaml`), and the freshness check."""
    body = [f"<h1>{html.escape(title)}</h1>",
            '<div id="freshness" class="banner unchecked">Freshness: checking…'
            f" (without JavaScript: run <code>{html.escape(check_command)}</code>)</div>"]
    if git.dirty:
        body.append(f'<div class="banner dirty">Made from a DIRTY checkout: uncommitted changes to '
                    f"{html.escape(', '.join(git.changed))}.</div>")
    body += [f"<p>{html.escape(line)}</p>" for line in provenance]
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2><p>{html.escape(s.text)}</p>")
        body += [f'<div class="wide">{g.html()}</div>' for g in s.grids]
        body += [f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">' for src, alt in s.images]
        body += [f"<p>{html.escape(n)}</p>" for n in s.notes]
    body.append("<h2>References</h2><ul>" + "".join(
        f"<li>[{html.escape(k)}] {html.escape(v)}</li>" for k, v in references.items()) + "</ul>")
    body.append(f"<h2>Params</h2><pre>{html.escape(params_yaml)}</pre>")
    inputs = json.loads(manifest_text)["inputs"]
    body.append(f"<details><summary>The {len(inputs)} files this report summarises (SHA-256)</summary><pre>"
                + html.escape("\n".join(f"{v}  {k}" for k, v in inputs.items())) + "</pre></details>")
    # JSON inside <script>: "</" could end the element early; escape it.
    embedded = manifest_text.replace("</", "<\\/")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body)
            + f'\n<script type="application/json" id="report-inputs">{embedded}</script>'
            + f"\n<script>{CHECK_SCRIPT}</script>\n</body></html>\n")


def _value(value: Any) -> str:
    return "null" if value is None else str(value)
