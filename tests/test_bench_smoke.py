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


def test_real_flows_bench_compares_a_config_flow_with_the_cli(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    for name in ("config_json_flow.py", "config_json.json"):
        (folder / name).write_text((Path(__file__).parent / "flows" / "real" / name).read_text())
    out = subprocess.run([sys.executable, str(BENCH.with_name("real_flows.py")), str(folder)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "1 flows, 3 steps, 0 differences" in out.stdout


def test_real_flows_bench_spins_the_split_flowmcp_chose_on_both_sides_and_names_it(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "foreach_flow.py").write_text((Path(__file__).parent / "flows" / "true" / "foreach_flow.py").read_text())
    out = subprocess.run([sys.executable, str(BENCH.with_name("real_flows.py")), str(folder)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    # split 'b' raises: flowmcp's default, the first split, is spun on both sides and succeeds
    assert "| flows/foreach_flow.py | body | 0 ('a') of 3 | spin succeeded | spin succeeded | yes |" in out.stdout
    assert "1 flows, 4 steps, 0 differences" in out.stdout


READ_ONLY_FLOW = '''from metaflow import FlowSpec, step

from tagged import Tagged


class ReadOnlyFlow(FlowSpec):
    @step
    def start(self):
        self.model = Tagged(3)
        self.next(self.score)

    @step
    def score(self):
        self.total = self.model.value + 1  # reads model: Metaflow saves it again
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReadOnlyFlow()
'''

# Pickled with the pickling process's id: a new content key in every process, the same value.
TAGGED = '''import os


class Tagged:
    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return {"value": self.value, "pickled_by": os.getpid()}

    def __setstate__(self, state):
        self.value = state["value"]
'''


def test_real_flows_bench_does_not_count_an_input_the_step_only_read_as_changed(tmp_path):
    sys.path.insert(0, str(BENCH.parent))
    import real_flows

    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "flow.py").write_text(READ_ONLY_FLOW)
    (folder / "tagged.py").write_text(TAGGED)
    side = real_flows.cli_side(sys.executable, folder, "flow.py", tmp_path, timeout=300)

    score = side.steps["score"]
    assert score.spin.ok and score.spin_artifacts["model"][1] != next(iter(score.spin_parents.values()))["model"]
    assert real_flows.changed_by_spin(score) == {"total"}
