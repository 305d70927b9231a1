"""The run's dvclive logs under the report folder (rank 0 alone): step metrics, plots and metrics.json.

Every entry also goes to the run's history (TrainState.history, kept in checkpoints), so a
resumed run starts its logs afresh and replays the history into them: the logs of a killed and
resumed run equal those of an uninterrupted one. dvclive writes into a temporary sibling folder;
`finish` moves its files over the report folder's, so a run that fails before then leaves the
previous run's logs and metrics.json as they were (dvc.yaml keeps outputs of a failed stage).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from softloc.training.state import TrainState


class RunLog:
    """dvclive's Live for one run, opened on demand; a no-op on processes other than rank 0."""

    def __init__(self, report_dir: str | os.PathLike, is_main: bool) -> None:
        self.report_dir, self.is_main = Path(report_dir), is_main
        self.staging = self.report_dir.parent / f".{self.report_dir.name}.live.tmp"
        self.live: Any = None

    def open(self, history: list[dict[str, float]]) -> None:
        """Start the logs afresh and replay `history` (a resumed run's) into them."""
        if not self.is_main:
            return
        from dvclive import Live

        shutil.rmtree(self.staging, ignore_errors=True)   # left by a killed run: the history replays it
        self.live = Live(dir=str(self.staging), save_dvc_exp=False, dvcyaml=False, report=None)
        for entry in history:
            self._log(entry)

    def record(self, st: TrainState, entry: dict[str, float]) -> None:
        """Append one step's figures to the run's history and, once open, the logs."""
        st.history.append(entry)
        if self.live is not None:
            self._log(entry)

    def finish(self, st: TrainState, summary: dict[str, Any]) -> None:
        """Write metrics.json from the run summary (but the names that are no metric) and close the logs."""
        if self.live is None:
            self.open(st.history)
        self.live.summary.update({k: v for k, v in summary.items() if k not in ("method", "init", "backbone")})
        self.live.end()
        self._publish()

    def _publish(self) -> None:
        """Move each file and folder dvclive wrote over its namesake in the report folder."""
        self.report_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(self.staging.iterdir()):
            target = self.report_dir / item.name
            if item.is_dir() and target.exists():
                old = self.report_dir / f".{item.name}.old.tmp"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
                os.replace(item, target)
                shutil.rmtree(old)
            else:
                os.replace(item, target)
        self.staging.rmdir()

    def _log(self, entry: dict[str, float]) -> None:
        self.live.step = int(entry["step"])
        for name, value in entry.items():
            if name != "step":
                self.live.log_metric(name, float(value))
