"""The paper's claim in one sentence, decided by paired intervals.

The paper ranks soft >= multi-similarity >= triplet > off-the-shelf (params report.ranking, best
first, the last an untrained network) and reports a night gain of the first over the last. Each
link of the chain is a paired block-bootstrap difference over the same queries and seeds as Table
1 (softloc.stats): a ">=" link holds unless its interval lies below 0, a ">" link (the last, over
the untrained network) and the night gain only where their interval lies above 0. The sentence
says whether the whole chain holds and, where it does not, which links fail, with their numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from softloc.config import Bootstrap
from softloc.report.analysis import Table1, reference_row
from softloc.stats import Outcomes, bootstrap_accuracy

NIGHT = "night"


@dataclass(frozen=True)
class Link:
    """One comparison of the claim: `better` minus `worse` in percent with its interval."""

    better: str
    worse: str
    strict: bool      # ">" (must be above 0) rather than ">=" (must not be below 0)
    estimate: float
    low: float
    high: float

    @property
    def holds(self) -> bool:
        return self.low > 0 if self.strict else self.high >= 0

    def text(self) -> str:
        return f"{self.better} − {self.worse} {self.estimate:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"


def paired_link(outcomes: list[Outcomes], rows: tuple[str, str], names: tuple[str, str], strict: bool,
                cfg: Bootstrap) -> Link:
    """The paired difference rows[0] − rows[1] over `outcomes` (rows of identical methods: exactly 0)."""
    if rows[0] == rows[1]:
        return Link(*names, strict, 0.0, 0.0, 0.0)
    pair = [replace(o, correct={r: o.correct[r] for r in rows}) for o in outcomes]
    diff = bootstrap_accuracy(pair, rows[0], confidence=cfg.confidence, n_resamples=cfg.resamples,
                              seed=cfg.seed).difference.iloc[0]
    return Link(*names, strict, float(diff["estimate"]), float(diff["low"]), float(diff["high"]))


def night_outcomes(outcomes: list[Outcomes]) -> list[Outcomes]:
    """The night queries of the first test set that has any (the paper's RobotCar night)."""
    for o in outcomes:
        night = o.conditions == NIGHT
        if night.any():
            _, blocks = np.unique(o.blocks[night], return_inverse=True)
            return [Outcomes(o.testset, blocks, o.conditions[night], {m: c[:, night] for m, c in o.correct.items()})]
    return []


def ranking_links(table: Table1, ranking: list[str], cfg: Bootstrap) -> tuple[list[Link], Link | None]:
    """Every consecutive pair of `ranking` at the mean over Table 1's columns, and the night gain of its
    first method over its last (None without night queries)."""
    outcomes = list(table.outcomes)
    rows = [reference_row(table.groups, m) for m in ranking]
    links = [paired_link(outcomes, (rows[i], rows[i + 1]), (ranking[i], ranking[i + 1]), i == len(ranking) - 2, cfg)
             for i in range(len(ranking) - 1)]
    night = night_outcomes(outcomes)
    gain = paired_link(night, (rows[0], rows[-1]), (ranking[0], ranking[-1]), True, cfg) if night else None
    return links, gain


def ranking_sentence(table: Table1, ranking: list[str], cfg: Bootstrap) -> str:
    """One sentence: whether the paper's ranking and night gain hold here, with the paired intervals."""
    missing = [m for m in ranking if reference_row(table.groups, m) is None]
    claim = " ≥ ".join(ranking[:-1]) + f" > {ranking[-1]}"
    if missing or table.intervals is None or len(ranking) < 2:
        return f"The paper's ranking ({claim}) is not measured here: {', '.join(missing) or 'no intervals'} missing."
    links, night = ranking_links(table, ranking, cfg)
    failed = [link for link in links if not link.holds] + ([night] if night is not None and not night.holds else [])
    numbers = "; ".join(link.text() for link in links)
    if night is not None:
        numbers += f"; night: {night.text()}"
    level = f"{round(100 * cfg.confidence)}% paired block-bootstrap intervals at the headline distance over {table.n_seeds} seed(s)"
    night_claim = " with a night gain" if night is not None else ""
    if not failed:
        return f"The paper's ranking ({claim}{night_claim}) holds here: {numbers} ({level})."
    return (f"The paper's ranking ({claim}{night_claim}) does not reproduce here; failing: "
            f"{', '.join(f'{link.better} vs {link.worse}' + (' at night' if link is night else '') for link in failed)}. "
            f"{numbers} ({level}).")
