"""The spin-latency benchmark still runs, and through the warm path (its figures come from
`python bench/spin_latency.py`; this short run checks the script, never a time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench" / "spin_latency.py"


def test_spin_latency_bench_runs_and_measures_warm_spins():
    out = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "1", "--cold-rounds", "1", "--flows", "trivial"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "USER": os.environ.get("USER") or "tester"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    [row] = [line for line in out.stdout.splitlines() if line.startswith("| (a) trivial |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 8 and "not warm" not in cells[2], row
    assert all(float(c) > 0 for c in (cells[1], cells[2], cells[3], cells[5], cells[6], cells[7])), row
