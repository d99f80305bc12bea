"""Step processes, forked: Metaflow's runtime starts each step as `python flow.py step ...` (or
`spin-step`); a job's zygote forks them instead, from a copy of the worker's imports, and each runs
the flow file fresh as `__main__`, with Metaflow's pipes, argv, folder and environment."""

import importlib
import json
import os
import re
import signal
import socket
import sys
import traceback

from ... import metaflow_compat as compat
from .. import cli
from . import spare
from .process import MAX_MESSAGE, exit_code, fresh_process_state, leave, report_learned, std_streams, teller

# Subcommands a local task runs as: anything else (`batch step`, `kubernetes step`) hands the
# task to a compute layer, and that launcher process is left to Metaflow, as it starts it.
LOCAL_TASK_COMMANDS = ("step", "spin-step")
REMOTE_TASK_COMMANDS = ("batch", "kubernetes", "argo-workflows", "step-functions", "airflow")
# Set by the worker's entry script (bridge/worker.py), which measured them as a script: the
# recursion headroom of a script's module code in a new interpreter, and the function measuring it.
SCRIPT_HEADROOM = 0
headroom = None


class Zygote:
    """A fork of a job child made before the job ran anything, which forks the step processes
    (see `_zygote`). `env` and `baseline`: the environment and modules it was forked with."""

    def __init__(self, sock, pid, env, baseline):
        self.sock, self.pid, self.env, self.baseline = sock, pid, env, baseline

    @classmethod
    def start(cls, baseline, spare_step=None, closing=()):
        """Fork it; `spare_step`: with a step process forked ahead, which copies those pages
        (see `spare.prefault`); `closing`: this process's sockets the zygote must not hold."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        pid = os.fork()
        if pid == 0:
            parent.close()
            for other in closing:
                other.close()
            _zygote(child, env, baseline, spare_step)  # never returns
        child.close()
        return cls(parent, pid, env, baseline)

    def close(self):
        """Let the zygote go (it leaves when its socket closes) and reap it: an orphan would be
        left to an init that, in many containers, never reaps."""
        self.sock.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class StepLauncher:
    """Stands in for `subprocess` in `metaflow.runtime`: each step process Metaflow starts with
    `python flow.py step ...` (a run's tasks, a foreach's splits at once) or `spin-step ...` is
    forked from a zygote instead. Anything else Metaflow asks of `subprocess` (another
    interpreter, a compute layer's launcher, other pipes) goes to the real module.

    The zygote answers each request with the new process's pid, and tells every exit as it
    happens; exits are kept here by pid until the step's `Popen` stand-in asks for its own."""

    def __init__(self, job, zygote):
        import subprocess

        self._subprocess = subprocess
        self.flow_file = os.path.abspath(job["flow_file"])
        self.job_dir = job.get("job_dir")
        self.learn_pages = bool(job.get("learn_pages"))
        self.spin = job.get("driver_op") == "spin"
        self.report = {"forked": 0, "spawned": 0, "reasons": []}
        self.exits = {}
        self.gone = False  # the zygote is gone: its step processes went with it
        self._zygote = zygote
        self.zygote = zygote.sock

    @classmethod
    def install(cls, job, zygote):
        launcher = cls(job, zygote)
        compat.replace_runtime_subprocess(launcher)
        return launcher

    def close(self):
        self._zygote.close()

    def __getattr__(self, name):
        return getattr(self._subprocess, name)

    def Popen(self, cmdline, env=None, **kwargs):  # subprocess's name
        why = self._why_not(cmdline, kwargs)
        if why:
            self._note("spawned", why)
            return self._subprocess.Popen(cmdline, env=env, **kwargs)
        env = dict(os.environ if env is None else env)
        base = self._zygote.env  # what the step process starts from: the changes are made there
        changes = {
            "set": {k: v for k, v in env.items() if base.get(k) != v},
            "unset": [k for k in base if k not in env],
            "argv": [str(a) for a in cmdline],
            "cwd": os.getcwd(),
            "job_dir": self.job_dir,
            "learn_pages": self.learn_pages,
            # A spin's one step process takes the git facts its runtime just found. (A run's
            # tasks each look, as Metaflow's do: a run is long, and the repository may change.)
            "git": compat.repository_info() if self.spin else None,
        }
        payload = json.dumps(changes).encode()
        if len(payload) > 200_000:
            self._note("spawned", "the step's environment is too large to hand over")
            return self._subprocess.Popen(cmdline, env=env, **kwargs)
        step = ForkedStep(self, payload)
        self._note("forked", None)
        return step

    def start(self, payload, fds):
        """Ask the zygote for a step process; its pid."""
        socket.send_fds(self.zygote, [payload], fds)
        while True:
            message = self._receive(block=True)
            if message is None:
                raise OSError("the zygote stopped before it started the step process")
            if "pid" in message and "exit" not in message:
                return message["pid"]

    def returncode(self, pid, block):
        """The step process's exit status, once the zygote has told it (None while it runs)."""
        while pid not in self.exits:
            if self.gone:
                return -signal.SIGKILL  # the zygote died, and its process group with it
            if self._receive(block) is None and not block:
                return None
        return self.exits[pid]

    def _receive(self, block):
        if self.gone:
            return None
        self.zygote.setblocking(block)
        try:
            data = self.zygote.recv(MAX_MESSAGE)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        finally:
            self.zygote.setblocking(True)
        if not data:
            self.gone = True
            return None
        message = json.loads(data)
        if "exit" in message:
            self.exits[message["pid"]] = message["exit"]
        return message

    def _why_not(self, cmdline, kwargs):
        if len(cmdline) < 2 or os.path.realpath(cmdline[0]) != os.path.realpath(sys.executable):
            return "the step runs in another interpreter (%s)" % (cmdline[0] if cmdline else "?")
        if os.path.abspath(cmdline[1]) != self.flow_file:
            return "the step process is not the flow file"
        command = next((a for a in cmdline[2:] if a in LOCAL_TASK_COMMANDS + REMOTE_TASK_COMMANDS), None)
        if command not in LOCAL_TASK_COMMANDS:
            return "the task runs through %s" % (command or "a command flowmcp does not know")
        pipe = self._subprocess.PIPE
        if any(kwargs.get(k) != pipe for k in ("stdin", "stdout", "stderr")):
            return "unexpected pipes"
        return None

    def _note(self, kind, why):
        self.report[kind] += 1
        if why and why not in self.report["reasons"]:
            self.report["reasons"].append(why)
        if self.job_dir:
            try:
                with open(os.path.join(self.job_dir, "steps.json"), "w") as f:
                    json.dump(self.report, f)
            except OSError:
                pass


class ForkedStep:
    """The `Popen` Metaflow's runtime gets: pipes to a step process the zygote forked."""

    def __init__(self, launcher, payload):
        self._launcher = launcher
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.pid = launcher.start(payload, [in_r, out_w, err_w])
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self.args = None
        self.returncode = None
        # Owned by this object, as a Popen's pipes are; Metaflow reads and closes them.
        self.stdin = os.fdopen(in_w, "wb")
        self.stdout = os.fdopen(out_r, "rb")
        self.stderr = os.fdopen(err_r, "rb")

    def poll(self):
        if self.returncode is None:
            self.returncode = self._launcher.returncode(self.pid, block=False)
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            self.returncode = self._launcher.returncode(self.pid, block=True)
        return self.returncode

    def send_signal(self, sig):
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def kill(self):
        self.send_signal(signal.SIGKILL)


def _zygote(sock, env_at_fork, baseline, spare_step=None):
    """Forks step processes on request from a copy of the job child made before it ran anything,
    so each step starts from the worker's imports, as a new interpreter would, not from the
    state the runtime built up. Several run at once (a foreach's splits); each exit is told as
    soon as the step process says it is over (`ends`), else when it is reaped (SIGCHLD wakes the
    loop through a pipe). With `spare_step`, the first request goes to a step process forked (and
    its pages copied) while the job child was still a spare."""
    import select

    code = 0
    spare.die_with_parent(os.getppid())  # it serves its job child alone
    ends, step_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # every step holds `step_end`
    waiting = None
    if spare_step is not None:
        waiting = _SpareStep.start(env_at_fork, baseline, [sock, ends], step_end, spare_step)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    children = {}  # pid -> whether its exit was told
    try:
        while True:
            ready, _, _ = select.select([sock, wake_r, ends], [], [])
            if wake_r in ready:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if ends in ready:
                said = json.loads(ends.recv(256))
                if children.get(said["pid"]) is False:
                    sock.send(json.dumps(said).encode())
                    children[said["pid"]] = True
            _tell_exits(sock, children)
            if sock not in ready:
                continue
            try:
                payload, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
            except OSError:
                break
            if not payload:
                break
            pid = waiting.hand(payload, fds) if waiting is not None else None
            waiting = None
            if pid is None:
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    ends.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    _step_process(json.loads(payload), fds, env_at_fork, baseline, step_end)  # never returns
            for fd in fds:
                os.close(fd)
            children[pid] = False
            sock.send(json.dumps({"pid": pid}).encode())
    except BaseException:
        traceback.print_exc()
        code = 1
    if waiting is not None:
        waiting.close()
    leave(code)


class _SpareStep:
    """A step process the zygote forked before its first request: it copies its pages ahead
    (`spare.prefault`), then takes the request's payload and pipes over a socket pair."""

    def __init__(self, sock, pid):
        self.sock, self.pid = sock, pid

    @classmethod
    def start(cls, env_at_fork, baseline, zygote_sockets, step_end, pages):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            spare.die_with_parent(zygote_pid)
            parent.close()
            for other in zygote_sockets:
                other.close()
            spare.prefault(lambda: spare.readable(child), pages)
            try:
                payload, fds, _, _ = socket.recv_fds(child, MAX_MESSAGE, 3)
            except OSError:
                payload = b""
            if not payload:
                leave(0)  # the job needed no step process
            child.close()
            spare.die_with_parent(None)  # a step now: it ends as forked steps do
            _step_process(json.loads(payload), fds, env_at_fork, baseline, step_end)  # never returns
        child.close()
        return cls(parent, pid)

    def hand(self, payload, fds):
        """Give it the request: its pid, or None when it is gone (the zygote forks instead)."""
        try:
            socket.send_fds(self.sock, [payload], fds)
        except OSError:
            self.close()
            return None
        self.sock.close()
        return self.pid

    def close(self):
        """Let it go unused, and reap it."""
        self.sock.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _tell_exits(sock, children):
    """Reap every step process that ended and tell its status (as `Popen.returncode` has it),
    unless the process told it itself before its memory was freed."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        if children.pop(pid, True) is False:
            sock.send(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}).encode())


def _module_headroom():
    """`_headroom` from a module frame made as `exec_as_main` makes the flow's (call it from
    where exec_as_main is called): what the flow's own code will have."""
    namespace = {"_headroom": headroom}
    exec("headroom = _headroom()", namespace)
    return namespace["headroom"]


def _step_process(request, fds, env_at_fork, baseline, step_end):
    """`python flow.py spin-step ...`, in a fork: the pipes, argv, folder and environment Metaflow
    gave the command, the flow file executed fresh as `__main__`. Its end is told to the zygote
    on `step_end`."""
    code = 1
    patterns_before = set(re._cache)  # the worker's, as the zygote's fork left them
    try:
        fresh_process_state()  # the zygote's SIGCHLD handler and wakeup fd; a numpy seed of its own
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        std_streams()
        env = dict(env_at_fork)
        for key in request["unset"]:
            env.pop(key, None)
        env.update(request["set"])
        os.environ.clear()
        os.environ.update(env)
        os.chdir(request["cwd"])
        importlib.invalidate_caches()  # a spare step process waited: modules written since are seen
        compat.assume_repository_info(request.get("git"))
        argv = request["argv"]
        sys.argv = list(argv[1:])
        sys.path.insert(0, os.path.dirname(os.path.abspath(argv[1])))  # `python flow.py` puts its folder first
        # `__main__` is as the worker left it: bare but for what Metaflow's import put there
        # (`__main__.ForeachFrame`, which foreach artifacts are pickled against).
        # The frames below the flow's module (ours, down to the worker's main) are not the user's:
        # allow for them, so recursion fails at the depth it would in `python flow.py` (the
        # corpus's recursion case checks that the same frame fails on both paths).
        sys.setrecursionlimit(sys.getrecursionlimit() + SCRIPT_HEADROOM - _module_headroom())
        try:
            cli.exec_as_main(argv[1])
            code = 0
        except SystemExit as ex:
            code = exit_code(ex)
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        import atexit

        atexit._run_exitfuncs()  # what interpreter shutdown would run; the rest is skipped
        report_learned(baseline, request.get("job_dir"), "step" if request.get("learn_pages") else None,
                        patterns_before)
    except BaseException:
        traceback.print_exc()
    finally:
        leave(code, teller(step_end, lambda code: json.dumps({"pid": os.getpid(), "exit": code}).encode()))
