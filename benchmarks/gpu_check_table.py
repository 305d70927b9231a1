"""benchmarks/gpu_check.py's table, the deadline and the timing every measurement shares."""

from __future__ import annotations

import json
import statistics
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch


class Table:
    """The check's rows, printed as they come and rewritten to OUT after each."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        self.out, self.header, self.rows = out, header, []
        out.mkdir(parents=True, exist_ok=True)

    def add(self, section: str, variant: str, value: float | str, unit: str, versus: str = "", note: str = "") -> None:
        row = {"section": section, "variant": variant, "value": value, "unit": unit, "vs": versus, "note": note}
        self.rows.append(row)
        print(f"[{section}] {variant}: {_fmt(value)} {unit}  {versus}  {note}".rstrip(), flush=True)
        self.write()

    @property
    def failed(self) -> bool:
        return any(r["value"] == "FAILED" for r in self.rows)

    def markdown(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.header.items()] + ["", "| section | variant | value | unit | vs | note |", "|---|---|---:|---|---|---|"]
        lines += [f"| {r['section']} | {r['variant']} | {_fmt(r['value'])} | {r['unit']} | {r['vs']} | {r['note']} |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        (self.out / "gpu_check.md").write_text(self.markdown())
        (self.out / "gpu_check.json").write_text(json.dumps({"header": self.header, "rows": self.rows}, indent=1))


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


class Clock:
    """Wall-clock deadline of the whole check."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget_s = time.perf_counter(), budget_s

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[int], Any], warmup: int, steps: int, device: torch.device) -> float:
    """Median wall time of fn(i) over `steps` calls after `warmup` calls, the device synchronised around each."""
    times = []
    for i in range(warmup + steps):
        sync(device)
        start = time.perf_counter()
        fn(i)
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_row(table: Table, section: str, variant: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure becomes a FAILED row (with the error) and returns None."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - one broken measurement must not lose the others
        traceback.print_exc()
        table.add(section, variant, "FAILED", "", "", f"{type(err).__name__}: {err}"[:300])
        return None
