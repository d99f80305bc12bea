"""flowmcp.testing's behaviour that needs no Metaflow process (the fast tier)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

EXITING = textwrap.dedent('''
    import atexit
    import gc
    import sys

    import flowmcp.testing


    @atexit.register
    def report():  # registered before flowmcp.testing's handler: runs after it
        open(sys.argv[1], "w").write(str(gc.get_freeze_count()))


    class Cycle:
        def __init__(self, path):
            self.path, self.open = path, open  # still there when the exit tears modules down

        def __del__(self):
            self.open(self.path, "w").close()  # as a buffered file flushes when collected


    gc.disable()  # the garbage waits for the exit
    cycle = Cycle(sys.argv[2])
    cycle.me = cycle
    del cycle
    flowmcp.testing._exit_without_freeing_the_stack()  # what loading a server's stack does
''')


@pytest.mark.parametrize("fast_exit", ["", "0"])
def test_after_a_server_the_exit_collects_garbage_then_leaves_the_rest(tmp_path, fast_exit):
    """Freeing the MCP stack object by object cost every test session 0.2-0.5 s at its exit: a
    process that loaded it collects its garbage (finalizers run) and leaves what is alive to the
    process's end, unless FLOWMCP_TESTING_FAST_EXIT=0."""
    script = tmp_path / "exiting.py"
    script.write_text(EXITING)
    frozen, finalized = tmp_path / "frozen", tmp_path / "finalized"
    env = dict(os.environ, FLOWMCP_TESTING_FAST_EXIT=fast_exit)
    subprocess.run([sys.executable, str(script), str(frozen), str(finalized)], check=True, env=env, timeout=60)
    assert finalized.exists()
    assert (int(frozen.read_text()) > 0) == (fast_exit != "0")
