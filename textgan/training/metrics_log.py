"""`metrics.jsonl`: one JSON object per event (phase, step, values), appended and flushed as it happens.

TensorBoard scalars are written too when `torch.utils.tensorboard` works (tensorboard installed); never required.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only event log of a run; a no-op when `enabled` is False (non-zero ranks)."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self.start = time.time()
        self._tensorboard = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(str(self.path.parent / "tensorboard"))
            except Exception:  # tensorboard is optional; any import problem means "not installed"
                self._tensorboard = None

    def log(self, event: str, step: int, **values: Any) -> dict[str, Any]:
        """Record `values` for `event` at `step`; returns the record."""
        record = {"event": event, "step": step, "time": round(time.time() - self.start, 3), **values}
        if not self.enabled:
            return record
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, allow_nan=True) + "\n")
        if self._tensorboard is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    self._tensorboard.add_scalar(f"{event}/{key}", value, step)
        return record


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl (skips a torn last line of a killed run)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
