import os
import subprocess
import sys
import time

from metaflow import FlowSpec, step

# Forks every few milliseconds, each child in a session of its own, its parent gone at once: no
# pid lives long enough for a walk that signals what it found to catch the one alive after it.
REFORKER = """
import os, time
while True:
    time.sleep(0.005)
    if os.fork():
        os._exit(0)
    os.setsid()
"""


class ReforkingFlow(FlowSpec):
    """A step that starts a sleeper in a session of its own (its pid goes to `setsid.pid`) and a
    process that re-forks itself every few ms in a new session, then works on."""

    @step
    def start(self):
        marker = "# escaping from " + os.getcwd()  # in every command line: this project's, not another test's
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  " + marker],
                                   start_new_session=True)
        subprocess.Popen([sys.executable, "-c", REFORKER + marker], start_new_session=True)
        with open("setsid.pid", "w") as f:
            f.write(str(sleeper.pid))
        print("started the escaping children; going to sleep", flush=True)
        time.sleep(600)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReforkingFlow()
