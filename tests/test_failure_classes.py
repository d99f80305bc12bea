"""Failure classes that need more than a corpus case: a step the kernel's OOM killer stops, in a
memory cgroup of its own, answered the same on the warm and the new-interpreter path.

(Every other class — suggestions, data facts, failures outside the step function, library
messages, warnings — has corpus cases, which tests/test_corpus.py spins on both paths.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

HUNGRY_FLOW = textwrap.dedent('''
    from metaflow import FlowSpec, Parameter, step


    class HungryFlow(FlowSpec):
        size = Parameter("chunks", type=int, default=2)

        @step
        def start(self):
            self.chunks = self.size
            self.next(self.eat)

        @step
        def eat(self):
            held = []
            for _ in range(self.chunks):
                held.append(b"x" * (100 * 1024 * 1024))  # 100 MB written: real pages
            self.total = len(held)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        HungryFlow()
''')
LIMIT_BYTES = 900 * 2**20


def memory_cgroup() -> Path | None:
    """A new memory cgroup (v1) under this process's own, or None where one cannot be made."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/") / f"flowmcp-test-{uuid.uuid4().hex[:8]}"
            try:
                folder.mkdir()
                (folder / "memory.limit_in_bytes").write_text(str(LIMIT_BYTES))
            except OSError:
                return None
            # Can a process be moved into it? (Some containers allow the folder, not the move.)
            moved = subprocess.run(["sh", "-c", f'echo $$ > "{folder / "cgroup.procs"}"'], capture_output=True)
            if moved.returncode != 0:
                folder.rmdir()
                return None
            return folder
    return None


@pytest.fixture
def cgroup():
    folder = memory_cgroup()
    if folder is None:
        pytest.skip("cannot make a memory cgroup here (needs cgroup v1 and permission to write it)")
    yield folder
    for _ in range(50):  # the processes are gone once the command returns; the kernel may lag
        try:
            folder.rmdir()
            return
        except OSError:
            import time

            time.sleep(0.1)


@pytest.mark.parametrize("tool", ["spin", "run"])
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
def test_a_step_the_oom_killer_stops_is_named_as_such(tmp_path, cgroup, warm, tool):
    (tmp_path / "flow.py").write_text(HUNGRY_FLOW)
    env = dict(os.environ, USER="tester")
    subprocess.run([sys.executable, "flow.py", "--quiet", "--no-pylint", "run"], cwd=tmp_path, env=env,
                   check=True, capture_output=True)
    # Enough chunks to pass the cgroup's limit; the call runs in the cgroup, the test does not.
    (tmp_path / "more.py").write_text("ARTIFACTS = {'chunks': 30}\n")
    arguments = {"flow": "flow.py", "step": "eat", "artifacts_module": "more.py"} if tool == "spin" else \
        {"flow": "flow.py", "parameters": {"chunks": 30}}
    # --no-daemon: the call's own process, and so everything it starts, is in the cgroup (a project
    # server started from the cgroup would outlive the test in it).
    command = [shutil.which("flowmcp") or "flowmcp", "--root", str(tmp_path), *([] if warm else ["--no-warm"]),
               "call", tool, "--no-daemon", "--json", "--args", json.dumps(arguments)]
    script = f'echo $$ > "{cgroup / "cgroup.procs"}" && exec "$@"'
    out = subprocess.run(["sh", "-c", script, "sh", *command], env=env, capture_output=True, text=True, timeout=300)
    answer = json.loads(out.stdout)
    failure = answer["failure"]
    assert failure["exception_type"] == "Killed" and "SIGKILL" in failure["message"], out.stdout
    assert failure["hints"][0].startswith("The kernel's OOM killer stopped it"), failure["hints"]
    assert "(0.9 GiB here)" in failure["hints"][0]
    assert answer["warm"] is warm
    assert failure["step"] == "eat"


WARNING_FLOW = textwrap.dedent('''
    import warnings

    from metaflow import FlowSpec, step


    class NoisyFlow(FlowSpec):
        @step
        def start(self):
            self.values = [1.0, 2.0, 3.0]
            self.next(self.fit)

        @step
        def fit(self):
            for _ in range(3):
                warnings.warn("solver did not converge", RuntimeWarning)
            warnings.warn("old keyword is deprecated", FutureWarning)
            self.total = sum(self.values)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        NoisyFlow()
''')


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "new-interpreter"])
def test_warnings_metaflow_hides_appear_counted_in_successful_run_and_spin_answers(tmp_path, warm):
    """Metaflow ignores every warning in its step processes; the answers still tell them."""
    import anyio
    from mcp import Client

    from flowmcp.app import App
    from flowmcp.server.build import build_server

    (tmp_path / "flow.py").write_text(WARNING_FLOW)

    async def go():
        async with Client(build_server(App.create(tmp_path, warm=warm))) as client:
            ran = await client.call_tool("run", {"flow": "flow.py"})
            spun = await client.call_tool("spin", {"flow": "flow.py", "step": "fit"})
            return ran, spun

    ran, spun = anyio.run(go)
    for result in (ran, spun):
        assert not result.is_error, result.content[0].text
        text = result.content[0].text
        assert "Warning: RuntimeWarning ×3 at flow.py:16: solver did not converge" in text, text
        assert "Warning: FutureWarning at flow.py:17: old keyword is deprecated" in text
    assert spun.structured_content["warm"] is warm
