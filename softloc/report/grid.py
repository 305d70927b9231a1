"""One table model rendered both as markdown (table1.md) and as HTML (index.html).

A table has header levels (each a list of one label per column; equal neighbours are merged into
one spanning cell in HTML and joined per column in markdown) and body rows of text cells, some
bold. The first column holds the row labels.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Grid:
    corner: str
    headers: list[list[str]]                 # levels, top first; each one label per data column
    rows: list[tuple[str, list[str], list[bool]]] = field(default_factory=list)  # label, cells, bold
    align_left: bool = False

    def add(self, label: str, cells: list[str], bold: list[bool] | None = None) -> None:
        if len(cells) != len(self.headers[-1]):
            raise ValueError(f"row {label!r}: {len(cells)} cells for {len(self.headers[-1])} columns")
        self.rows.append((label, cells, bold or [False] * len(cells)))

    def markdown(self) -> str:
        names = [" ".join(p for p in parts if p) for parts in zip(*self.headers)]
        align = "---|" if self.align_left else "---:|"
        lines = ["| " + " | ".join([self.corner, *names]) + " |", "|---|" + align * len(names)]
        for label, cells, bold in self.rows:
            shown = [f"**{c}**" if b and c else c for c, b in zip(cells, bold)]
            lines.append("| " + " | ".join([label, *shown]) + " |")
        return "\n".join(lines) + "\n"

    def html(self, css_class: str = "t1") -> str:
        levels = len(self.headers)
        head = []
        for i, level in enumerate(self.headers):
            cells = [f'<th rowspan="{levels}">{html.escape(self.corner)}</th>'] if i == 0 else []
            for text, span in _spans(level):
                cells.append(f'<th colspan="{span}">{html.escape(text)}</th>' if span > 1 else f"<th>{html.escape(text)}</th>")
            head.append(f"<tr>{''.join(cells)}</tr>")
        body = []
        for label, cells, bold in self.rows:
            tds = "".join(f"<td><b>{html.escape(c)}</b></td>" if b and c else f"<td>{html.escape(c)}</td>"
                          for c, b in zip(cells, bold))
            body.append(f"<tr><th>{html.escape(label)}</th>{tds}</tr>")
        cls = f"{css_class} left" if self.align_left else css_class
        return f'<table class="{cls}"><thead>{"".join(head)}</thead><tbody>{"".join(body)}</tbody></table>'


def _spans(labels: list[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for label in labels:
        if out and out[-1][0] == label:
            out[-1] = (label, out[-1][1] + 1)
        else:
            out.append((label, 1))
    return out
