"""A suite of step tests with and without the session fixture: `pytest` over 20 `spin_step`
tests of one flow, once as written (each call starts a server and its warm worker) and once
with `flowmcp_session` (one server and worker for the whole session). Alternating, medians.

    python bench/step_tests.py [--rounds 3] [--tests 20] [--keep-plugins]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchenv import metaflow_env

FLOW = Path(__file__).resolve().parent.parent / "tests" / "flows" / "params_flow.py"
TARGET = 0.25  # with the fixture / without, from the issue

TEST = '''
from flowmcp.testing import spin_step


def test_score_{i}():
    assert spin_step("params_flow.py", "score", artifacts={{"total": {i}}})["result"] == {double}
'''

SESSION = textwrap.dedent('''
    import pytest


    @pytest.fixture(autouse=True, scope="session")
    def _one_server(flowmcp_session):
        yield flowmcp_session
''')


# Plugins flowmcp's own test extra installs, which a project's suite would not load: hypothesis's
# alone adds ~0.6 s to every pytest start (on both sides). `--keep-plugins` keeps them.
FOREIGN_PLUGINS = ["-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:xdist.looponfail"]


def suite(root: Path, plugins: list[str]) -> float:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, "test_steps.py"],
                         cwd=root, env=metaflow_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--keep-plugins", action="store_true", help="load every installed pytest plugin")
    args = parser.parse_args()
    plugins = [] if args.keep_plugins else FOREIGN_PLUGINS
    roots = {}
    for mode in ("plain", "session"):
        root = roots[mode] = Path(tempfile.mkdtemp(prefix=f"flowmcp-steptests-{mode}-"))
        shutil.copy(FLOW, root / "params_flow.py")
        subprocess.run([sys.executable, "params_flow.py", "--quiet", "--no-pylint", "run"], cwd=root,
                       env=metaflow_env(), check=True, capture_output=True)
        (root / "test_steps.py").write_text("".join(TEST.format(i=i, double=2 * i) for i in range(args.tests)))
        if mode == "session":
            (root / "conftest.py").write_text(SESSION)
    times = {"plain": [], "session": []}
    for _ in range(args.rounds):
        for mode in times:
            times[mode].append(suite(roots[mode], plugins))
    for root in roots.values():
        shutil.rmtree(root, ignore_errors=True)
    ratio = statistics.median(times["session"]) / statistics.median(times["plain"])
    print(f"(medians: {statistics.median(times['session']):.1f} s with the fixture, "
          f"{statistics.median(times['plain']):.1f} s without)")
    print(f"| {args.tests}-test spin_step suite | with flowmcp_session / without | {ratio:.2f} "
          f"{'✓' if ratio <= TARGET else '✗'} | ≤ {TARGET:.2f} |")


if __name__ == "__main__":
    main()
