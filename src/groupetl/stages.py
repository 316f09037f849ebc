"""What every pipeline stage returns, so the CLI, the jobs and the run log treat them alike."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageResult:
    """The outcome of one stage run: counts taken while writing, tables written, wall time.

    ``counts`` keys are stable snake_case names (``records_read``, ``accepted``, ...) that the
    run log stores and the CLI prints; ``notes`` are extra human-readable lines for the summary.
    """

    stage: str
    counts: dict[str, int] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as printable lines (the CLI prints them; jobs log them)."""
        out = [f"{self.stage}: {self.seconds:.1f}s"]
        width = max((len(k) for k in self.counts), default=0)
        out += [f"  {k:<{width}}  {v:>12,}" for k, v in self.counts.items()]
        out += [f"  {n}" for n in self.notes]
        return out
