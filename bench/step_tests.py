"""A suite of step tests with and without the session fixture: `pytest` over 20 `spin_step`
tests of one flow, once as written (each call starts a server and its warm worker) and once
with `flowmcp_session` (one server and worker for the whole session). Alternating, medians.
The flows are spin_latency.py's: (a) imports only Metaflow, (c) pandas + scikit-learn.
`--daemon` adds a third side: the suite as written with FLOWMCP_TESTING_DAEMON=1, through the
root's project server, which one run before the rounds has started (as a developer's earlier
`pytest` or `flowmcp call` would have).

    python bench/step_tests.py [--rounds 3] [--tests 20] [--flows trivial,sklearn] [--daemon] [--keep-plugins]
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
from spin_latency import FLOW, FLOWS

TARGET = 0.25  # with the fixture / without, from the issue

CHECKS = {  # on the train step of spin_latency's flows, with the input each test sets
    "trivial": 'result["y"] == {x} + 1',
    "sklearn": 'result["model"].coef_.shape == (1, 1)',
}
TEST = '''

def test_train_{i}():
    result = spin_step("flow.py", "train", artifacts={{"x": {x}}})
    assert {check}
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


def suite(root: Path, plugins: list[str], mode: str) -> float:
    env = metaflow_env(FLOWMCP_TESTING_DAEMON="1") if mode == "daemon" else metaflow_env()
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, "test_steps.py"],
                         cwd=root, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:]
    return time.perf_counter() - started


def test_module(kind: str, tests: int) -> str:
    checks = (TEST.format(i=i, x=100 + i, check=CHECKS[kind].format(x=100 + i)) for i in range(tests))
    return "from flowmcp.testing import spin_step\n" + "".join(checks)


def project(kind: str, mode: str, tests: int) -> Path:
    _, imports, body = FLOWS[kind]
    root = Path(tempfile.mkdtemp(prefix=f"flowmcp-steptests-{kind}-{mode}-"))
    (root / "flow.py").write_text(FLOW.format(imports=imports, body=body))
    subprocess.run([sys.executable, "flow.py", "--quiet", "--no-pylint", "run"], cwd=root, env=metaflow_env(),
                   check=True, capture_output=True)
    (root / "test_steps.py").write_text(test_module(kind, tests))
    if mode == "session":
        (root / "conftest.py").write_text(SESSION)
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--flows", default="trivial,sklearn")
    parser.add_argument("--daemon", action="store_true", help="also through the project server, already running")
    parser.add_argument("--keep-plugins", action="store_true", help="load every installed pytest plugin")
    args = parser.parse_args()
    plugins = [] if args.keep_plugins else FOREIGN_PLUGINS
    modes = ("plain", "session", "daemon") if args.daemon else ("plain", "session")
    print(f"| flow | {args.tests}-test spin_step suite with flowmcp_session / without | target |"
          + (" through the running project server / without |" if args.daemon else "")
          + f"  ({args.rounds} rounds, medians)")
    print("|---|---|---|" + ("---|" if args.daemon else ""))
    for kind in args.flows.split(","):
        roots = {mode: project(kind, mode, args.tests) for mode in modes}
        if args.daemon:
            suite(roots["daemon"], plugins, "daemon")  # starts the project server
        times = {mode: [] for mode in modes}
        for _ in range(args.rounds):
            for mode in modes:
                times[mode].append(suite(roots[mode], plugins, mode))
        if args.daemon:
            subprocess.run([sys.executable, "-m", "flowmcp", "--root", str(roots["daemon"]), "daemon", "stop"],
                           env=metaflow_env(), capture_output=True)
        for root in roots.values():
            shutil.rmtree(root, ignore_errors=True)
        medians = {mode: statistics.median(times[mode]) for mode in modes}
        cells = [FLOWS[kind][0], _ratio(medians["session"], medians["plain"]), f"≤ {TARGET:.2f}"]
        if args.daemon:
            cells.append(_ratio(medians["daemon"], medians["plain"]))
        print("| " + " | ".join(cells) + " |")


def _ratio(ours: float, plain: float) -> str:
    ratio = ours / plain
    return f"{ratio:.2f} {'✓' if ratio <= TARGET else '✗'} ({ours:.1f} s / {plain:.1f} s)"


if __name__ == "__main__":
    main()
