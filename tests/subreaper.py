"""`python tests/subreaper.py COMMAND...`: run a command under a child subreaper (Linux).

Whatever escapes the processes under test (a child that setsid and re-forks faster than any walk
of every process can follow) is re-parented here instead of to init, so a test finds it by walking
this small tree, and nothing a failed test leaves runs on: on SIGTERM this process stops its whole
tree (freezing it first) and exits. It reaps what ends under it meanwhile.
"""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flowmcp.bridge.project import tree


def _reap(_signum=None, _frame=None):
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _stop(_signum, _frame):
    tree.stop()
    os._exit(0)


def main():
    tree.prctl(tree.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGCHLD, _reap)
    subprocess.Popen(sys.argv[1:])
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
