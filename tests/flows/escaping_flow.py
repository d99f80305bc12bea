import os
import subprocess
import sys
import time

from metaflow import FlowSpec, step


class EscapingFlow(FlowSpec):
    """A step that starts processes outside its process group, then works on: one in a session
    of its own (setsid), one double-forked daemon. Their pids go to `escaped.pids`."""

    @step
    def start(self):
        marker = f"escaped from {os.getcwd()}"  # this project's, not another test's
        sleeper = [sys.executable, "-c", "import time; time.sleep(600)  # " + marker]
        own_session = subprocess.Popen(sleeper, start_new_session=True)
        middle = os.fork()
        if middle == 0:  # the classic daemon: fork, setsid, fork again, the middle one exits
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, sleeper)
            os._exit(0)
        os.waitpid(middle, 0)
        time.sleep(0.5)
        daemons = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
        with open("escaped.pids", "w") as f:
            f.write(" ".join(sorted(set(daemons.split()) | {str(own_session.pid)})))
        print("started the escaping children; going to sleep", flush=True)
        time.sleep(600)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EscapingFlow()
