"""flowmcp's warm worker: a long-lived process of the project's Python that keeps Metaflow and the
flow's third-party libraries imported, and forks one child per job instead of starting Python.

Like `driver.py` it imports only the standard library and Metaflow, and runs in the project's
interpreter (`python worker.py CONFIG.json`). Three kinds of process take part in a warm spin:

- the worker (this file's `Worker`): imports, then serves jobs on a Unix socket. It never runs the
  user's code, so it stays as fresh as a just-started interpreter that imported the same modules.
- a job child, forked per job: it becomes its own session (one kill reaches everything below it),
  takes the job's environment and output file, and runs the driver exactly as `python driver.py`
  would. For a spin it first forks a *zygote*, a pristine copy of itself, and points Metaflow's
  runtime at it instead of `subprocess.Popen`.
- the step process, forked by the zygote when Metaflow launches `python flow.py spin-step ...`:
  it runs the flow file fresh as `__main__`, with the pipes, argv and environment Metaflow gave it,
  so logs, the spin datastore and persisted artifacts come out as from the plain path.

A job child and its step process report the modules they imported that the worker lacked; the
worker imports those that live in site-packages or the standard library, so the next spin finds
them loaded too. Project modules are never imported here: they are read fresh by every job.
"""

import sys

# What the interpreter loaded before any script code ran: `python flow.py` has these before the
# flow's folder is on sys.path, so no file there can shadow them.
STARTUP_MODULES = frozenset(sys.modules)


def _headroom():
    """How many nested calls the caller has left before RecursionError."""

    def down(n):
        try:
            return down(n + 1)
        except RecursionError:
            return n

    return down(0)


# The same for a script's module-level code in a new interpreter: a flow run as `python flow.py`
# starts at exactly this depth. (Its step process here, a fork, starts deeper and makes up for it.)
SCRIPT_HEADROOM = _headroom()

import gc
import importlib
import importlib.util
import io
import json
import os
import re
import selectors
import signal
import socket
import sysconfig
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))

# Never preloaded, whatever the flow imports: a fork of a process holding them is not safe (CUDA
# contexts, gRPC and runtime thread pools do not survive fork). The job imports them fresh.
FORK_UNSAFE = {
    "torch": "CUDA state does not survive fork",
    "tensorflow": "starts threads and CUDA state at import",
    "jax": "its runtime's threads do not survive fork",
    "jaxlib": "its runtime's threads do not survive fork",
    "grpc": "gRPC is not fork-safe by default",
    "ray": "starts a runtime of its own",
    "pyspark": "talks to a JVM over sockets",
    "cupy": "CUDA state does not survive fork",
}
# Keys that differ per job by design; any other difference from the worker's environment would
# make its import-time configuration (metaflow_config reads the environment) wrong for the job.
PER_JOB_ENV = ("FLOWMCP_CAPTURE_DIR", "FLOWMCP_CAPTURE_ARTIFACTS", "FLOWMCP_WARM")
# What every spin and describe uses, imported before the first job (later jobs teach the rest).
CORE = ["metaflow", "metaflow.cli", "metaflow.runtime", "metaflow.client", "metaflow.task"]
MAX_MESSAGE = 1 << 20
IDLE_EXIT_S = 900.0  # a worker unused this long exits (the server may set another time)
STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))  # Python 3.10+; older: learn less


def _load_driver():
    spec = importlib.util.spec_from_file_location("_flowmcp_driver", os.path.join(HERE, "driver.py"))
    driver = importlib.util.module_from_spec(spec)
    sys.modules["_flowmcp_driver"] = driver
    spec.loader.exec_module(driver)
    return driver


# --------------------------------------------------------------------------- what may be preloaded


def library_dirs():
    """Folders whose modules count as installed libraries: the standard library and site-packages."""
    paths = sysconfig.get_paths()
    dirs = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        import site

        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except Exception:
        pass
    return sorted(os.path.realpath(d) for d in dirs if d)


def _inside(path, dirs):
    path = os.path.realpath(path)
    return any(path == d or path.startswith(d + os.sep) for d in dirs)


def installed_origin(name, dirs):
    """Why the top-level module `name` may not be preloaded, or None when it is an installed library.

    Resolved without importing it, on the worker's path, which holds no project folder."""
    if name in sys.builtin_module_names:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except Exception as ex:
        return "cannot be resolved (%s)" % type(ex).__name__
    if spec is None:
        return "not installed"
    if spec.origin in (None, "namespace") or not spec.has_location:
        places = list(spec.submodule_search_locations or [])
        if places and all(_inside(p, dirs) for p in places):
            return None
        return "not an installed library"
    if spec.origin == "frozen" or _inside(spec.origin, dirs):
        return None
    return "not an installed library (%s)" % spec.origin


def python_threads():
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def fork_hazard():
    """Why forking this process now would not be safe, or None."""
    threads = python_threads()
    if threads:
        return "a library started thread(s) at import: %s" % ", ".join(threads[:3])
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                return "CUDA was initialised at import"
        except Exception:
            pass
    return None


def metaflow_config_files(root):
    """The files Metaflow reads its configuration from when imported (metaflow_config_funcs):
    `$METAFLOW_HOME/config[_PROFILE].json` and the project's `.metaflow/config.json`."""
    home = os.environ.get("METAFLOW_HOME", "~/.metaflowconfig")
    profile = os.environ.get("METAFLOW_PROFILE")
    name = "config_%s.json" % profile if profile else "config.json"
    return [os.path.expanduser(os.path.join(home, name)), os.path.join(root, ".metaflow", "config.json")]


def fingerprint(paths):
    """Modification times of what this worker's imports depend on: the folders packages are
    installed into (a pip install or uninstall changes them) and Metaflow's config files."""
    out = {}
    for path in paths:
        try:
            out[path] = os.stat(path).st_mtime_ns
        except OSError:
            out[path] = None  # absent; its creation counts as a change
    return out


# --------------------------------------------------------------------------- the worker


class Worker:
    def __init__(self, config):
        self.dirs = library_dirs()
        self.fingerprint = fingerprint([d for d in self.dirs if os.path.isdir(d)]
                                       + metaflow_config_files(config["root"]))
        self.env_at_start = dict(os.environ)
        self.preloaded = []
        self.skipped = dict(config.get("deny") or {})  # module -> why it was not preloaded
        self.hazard = None
        self.hazard_module = None
        self.jobs = {}  # job child pid -> (connection, job folder)
        self.wakeup_fds = ()
        self.startup_modules = frozenset(config.get("startup_modules") or ())
        self.idle_exit_s = float(config.get("idle_exit_s") or IDLE_EXIT_S)
        self.last_used = time.monotonic()
        self.selector = selectors.DefaultSelector()

    # ---- imports

    def preload(self, names):
        """Import installed libraries among `names` (dotted), stopping if one makes forking unsafe."""
        done = []
        for name in names:
            if self.hazard or name in sys.modules or name in self.skipped:
                continue
            top = name.split(".")[0]
            if top in self.skipped:
                continue
            if top in FORK_UNSAFE:
                self.skipped[name] = "not preloaded: " + FORK_UNSAFE[top]
                continue
            if top.startswith("_flowmcp") or top == "__main__":
                continue
            why = installed_origin(top, self.dirs) if top not in sys.modules else None
            if why:
                self.skipped[name] = why
                continue
            try:
                if "." in name and importlib.util.find_spec(name) is None:
                    continue  # `from pkg import name` named a function or class, not a module
                importlib.import_module(name)
            except BaseException as ex:  # a broken library fails the same way in the job, freshly
                self.skipped[name] = "import failed: %s: %s" % (type(ex).__name__, str(ex)[:200])
                continue
            done.append(name)
            hazard = fork_hazard()
            if hazard:
                self.hazard = "after importing %s, %s" % (name, hazard)
                self.hazard_module = name.split(".")[0]
        self.preloaded.extend(done)
        if done:
            # Everything imported lives as long as the worker: move it out of the collector's
            # sight, so collections in the forks do not walk (and copy) the libraries' objects.
            gc.collect()
            gc.freeze()
        return done

    def learn(self, job_dir):
        """Take on what a finished job had to load beyond our state, so the next job need not.

        Modules: only submodules of packages already here and the standard library — never a
        new third-party package, never a project module (each reported module's file must lie in
        a library folder). Regular expressions the job compiled: compiling is pure, and the
        `re` cache otherwise starts empty in every fork."""
        names, patterns = [], []
        for entry in sorted(os.listdir(job_dir)) if os.path.isdir(job_dir) else []:
            if not entry.startswith("learned-"):
                continue
            try:
                with open(os.path.join(job_dir, entry)) as f:
                    reported = json.load(f)
            except (OSError, ValueError):
                continue
            for name, path in reported.get("modules", []):
                if name in sys.modules or name in self.skipped:
                    continue
                top = name.split(".")[0]
                known = top in sys.modules or top in STDLIB
                if known and (path is None or _inside(path, self.dirs)):
                    names.append(name)
            patterns.extend(reported.get("patterns", []))
        if names:
            self.preload(sorted(set(names), key=lambda n: (n.count("."), n)))
        for pattern, flags in patterns:
            try:
                re.compile(pattern, flags)
            except Exception:
                pass

    # ---- serving

    def status(self):
        return {
            "ok": True,
            "pid": os.getpid(),
            "python": sys.executable,
            "fingerprint": self.fingerprint,
            "preloaded": self.preloaded,
            "skipped": self.skipped,
            "hazard": self.hazard,
            "hazard_module": self.hazard_module,
            "modules": len(sys.modules),
        }

    def serve(self, listener):
        wake_r, wake_w = self.wakeup_fds = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(wake_r, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "server")
        while True:
            for key, _ in self.selector.select(min(60.0, self.idle_exit_s)):
                if key.data == "accept":
                    self.accept(listener)
                elif key.data == "signal":
                    try:
                        os.read(wake_r, 512)
                    except BlockingIOError:
                        pass
                elif key.data == "server":
                    if not os.read(sys.stdin.fileno(), 512):
                        return  # the server is gone: nobody will ask for more
                else:
                    self.read_request(key.fileobj, key.data)
            self.reap()
            if not self.jobs and time.monotonic() - self.last_used > self.idle_exit_s:
                return

    def accept(self, listener):
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, bytearray())

    def read_request(self, conn, buffer):
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.selector.unregister(conn)
            conn.close()
            return
        buffer.extend(chunk)
        if len(buffer) > MAX_MESSAGE:
            self.selector.unregister(conn)
            conn.close()
            return
        if b"\n" not in buffer:
            return
        self.selector.unregister(conn)
        conn.setblocking(True)
        line = bytes(buffer).split(b"\n", 1)[0]
        try:
            request = json.loads(line)
            self.handle(conn, request)
        except Exception as ex:
            _send(conn, {"ok": False, "refused": "worker error: %s: %s" % (type(ex).__name__, ex)})
            conn.close()

    def handle(self, conn, request):
        self.last_used = time.monotonic()
        op = request.get("op")
        if op == "status":
            _send(conn, self.status())
            conn.close()
        elif op == "job":
            self.start_job(conn, request)
        else:
            _send(conn, {"ok": False, "refused": "unknown request %r" % op})
            conn.close()

    def refusal(self, job):
        """Why this job must take the plain path, or None."""
        if self.hazard:
            return "forking is not safe here: " + self.hazard
        env = job["env"]
        for key in set(env) | set(self.env_at_start):
            if key in PER_JOB_ENV:
                continue
            if env.get(key) != self.env_at_start.get(key):
                return "the job's environment differs from the worker's (%s)" % key
        shadowed = _shadowed_modules(job.get("flow_dir"), self.startup_modules)
        if shadowed:
            return "the flow's folder has %s, which would shadow the library of that name" % (
                ", ".join(sorted(shadowed)[:3]))
        return None

    def start_job(self, conn, job):
        why = self.refusal(job)
        if why:
            _send(conn, {"ok": False, "refused": why})
            conn.close()
            return
        env_changes = {k: v for k, v in os.environ.items() if self.env_at_start.get(k) != v}
        env_removed = [k for k in self.env_at_start if k not in os.environ]
        pid = os.fork()
        if pid == 0:
            self.close_in_child(conn)
            _job_child(job, env_changes, env_removed)  # never returns
        self.jobs[pid] = (conn, job.get("job_dir"))
        _send(conn, {"ok": True, "pid": pid})

    def close_in_child(self, conn):
        """A job child keeps none of the worker's sockets and pipes (a job holding the listening
        socket or a connection would keep the server from seeing the worker go)."""
        conn.close()
        for key in list(self.selector.get_map().values()):
            if key.data in ("server", "signal"):
                continue  # stdin is replaced by /dev/null in the child; the wakeup pipe is below
            key.fileobj.close()
        self.selector.close()
        for other, _ in self.jobs.values():
            other.close()
        for fd in self.wakeup_fds:
            os.close(fd)

    def reap(self):
        while self.jobs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn, job_dir = self.jobs.pop(pid, (None, None))
            if conn is not None:
                try:
                    _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                except OSError:
                    pass
                conn.close()
            if job_dir and not self.hazard:
                self.learn(job_dir)


def _send(conn, message):
    conn.sendall(json.dumps(message).encode() + b"\n")


def _shadowed_modules(flow_dir, startup_modules=frozenset()):
    """Modules of the flow's folder named like one this worker imported: `python flow.py` would
    import the file instead, and our copy would be the wrong one. (A folder without
    `__init__.py` never shadows anything; modules loaded at interpreter start-up cannot be.)"""
    if not flow_dir:
        return set()
    try:
        entries = os.listdir(flow_dir)
    except OSError:
        return set()
    names = set()
    for entry in entries:
        if entry.endswith(".py"):
            names.add(entry[:-3])
        elif os.path.isfile(os.path.join(flow_dir, entry, "__init__.py")):
            names.add(entry)
    tops = {n.split(".")[0] for n in sys.modules if not n.startswith("_flowmcp")}
    tops -= {n.split(".")[0] for n in startup_modules}
    return {n for n in names & tops if n != "__main__"}


# --------------------------------------------------------------------------- forked processes


def _fresh_process_state():
    """What a new interpreter would have that a fork of ours does not."""
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:  # a new process seeds numpy's global generator from the OS
        try:
            numpy_random.seed()
        except Exception:
            pass


def _std_streams():
    # As PYTHONUNBUFFERED gives a new interpreter: unbuffered bytes, text written through.
    # (PYTHONIOENCODING=utf-8 is set for every job; stderr keeps Python's backslashreplace.)
    def stream(fd, mode, errors="strict"):
        raw = io.FileIO(fd, mode, closefd=False)
        if mode == "r":
            return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors=errors)
        return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, write_through=True)

    sys.stdin, sys.stdout, sys.stderr = stream(0, "r"), stream(1, "w"), stream(2, "w", "backslashreplace")
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _report_learned(baseline, job_dir):
    """Tell the worker the modules and regular expressions this process loaded beyond its own."""
    if not job_dir:
        return
    modules = []
    for name in set(sys.modules) - baseline:
        module = sys.modules.get(name)
        if module is not None:
            modules.append((name, getattr(module, "__file__", None)))
    patterns = [(key[1], key[2]) for key in list(re._cache)
                if len(key) == 3 and isinstance(key[1], str) and not key[2] & re.DEBUG]
    try:
        with open(os.path.join(job_dir, "learned-%d.json" % os.getpid()), "w") as f:
            json.dump({"modules": sorted(modules), "patterns": patterns}, f)
    except OSError:
        pass


def _leave(code):
    """End a forked process: what it printed is flushed, nothing of the worker's is torn down."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _exit_code(ex):
    """The exit status `python script.py` gives for a SystemExit."""
    code = ex.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _job_child(job, env_changes, env_removed):
    """A job, in a fork of the worker: the driver, as `python driver.py REQUEST RESULT` runs it."""
    code = 1
    try:
        os.setsid()
        _fresh_process_state()
        out = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        _std_streams()
        os.chdir(job["cwd"])
        env = dict(job["env"])
        for key in env_removed:
            env.pop(key, None)
        env.update(env_changes)  # what the worker's imports set (e.g. metaflow_config's defaults)
        os.environ.clear()
        os.environ.update(env)
        importlib.invalidate_caches()  # a helper module created since the worker started is seen
        sys.path.insert(0, HERE)
        baseline = set(sys.modules)
        driver = sys.modules["_flowmcp_driver"]
        launcher = StepLauncher.install(job, baseline) if job.get("driver_op") == "spin" else None
        sys.argv = [os.path.join(HERE, "driver.py")] + list(job["argv"])
        driver.handle(sys.argv)
        if launcher is not None:
            launcher.close()
        _report_learned(baseline, job.get("job_dir"))
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        _leave(code)


class StepLauncher:
    """Stands in for `subprocess` in `metaflow.runtime`: the step process Metaflow starts with
    `python flow.py spin-step ...` is forked from a zygote instead. Anything else Metaflow asks of
    `subprocess` (another interpreter, other pipes) goes to the real module."""

    def __init__(self, job, baseline):
        import subprocess

        self._subprocess = subprocess
        self.flow_file = os.path.abspath(job["flow_file"])
        self.job_dir = job.get("job_dir")
        self.report = {"forked": 0, "spawned": 0, "reasons": []}
        self.active = None
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env_at_fork = dict(os.environ)
        pid = os.fork()
        if pid == 0:
            parent.close()
            _zygote(child, env_at_fork, baseline)  # never returns
        child.close()
        self.zygote, self.zygote_pid = parent, pid

    @classmethod
    def install(cls, job, baseline):
        import metaflow.runtime

        launcher = metaflow.runtime.subprocess = cls(job, baseline)
        return launcher

    def close(self):
        """Let the zygote go (it leaves when its socket closes) and reap it: an orphan would be
        left to an init that, in many containers, never reaps."""
        self.zygote.close()
        try:
            os.waitpid(self.zygote_pid, 0)
        except ChildProcessError:
            pass

    def __getattr__(self, name):
        return getattr(self._subprocess, name)

    def Popen(self, cmdline, env=None, **kwargs):  # subprocess's name
        why = self._why_not(cmdline, kwargs)
        if why:
            self._note("spawned", why)
            return self._subprocess.Popen(cmdline, env=env, **kwargs)
        env = dict(os.environ if env is None else env)
        base = dict(os.environ)
        changes = {
            "set": {k: v for k, v in env.items() if base.get(k) != v},
            "unset": [k for k in base if k not in env],
            "argv": [str(a) for a in cmdline],
            "cwd": os.getcwd(),
            "job_dir": self.job_dir,
        }
        payload = json.dumps(changes).encode()
        if len(payload) > 200_000:
            self._note("spawned", "the step's environment is too large to hand over")
            return self._subprocess.Popen(cmdline, env=env, **kwargs)
        self.active = ForkedStep(self.zygote, payload)
        self._note("forked", None)
        return self.active

    def _why_not(self, cmdline, kwargs):
        if self.active is not None and self.active.returncode is None:
            return "a second step process at once"
        if len(cmdline) < 2 or os.path.realpath(cmdline[0]) != os.path.realpath(sys.executable):
            return "the step runs in another interpreter (%s)" % (cmdline[0] if cmdline else "?")
        if os.path.abspath(cmdline[1]) != self.flow_file:
            return "the step process is not the flow file"
        pipe = self._subprocess.PIPE
        if any(kwargs.get(k) != pipe for k in ("stdin", "stdout", "stderr")):
            return "unexpected pipes"
        return None

    def _note(self, kind, why):
        self.report[kind] += 1
        if why:
            self.report["reasons"].append(why)
        if self.job_dir:
            try:
                with open(os.path.join(self.job_dir, "steps.json"), "w") as f:
                    json.dump(self.report, f)
            except OSError:
                pass


class ForkedStep:
    """The `Popen` Metaflow's spin runtime gets: pipes to a step process the zygote forked."""

    def __init__(self, zygote, payload):
        self._zygote = zygote
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(zygote, [payload], [in_r, out_w, err_w])
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        reply = json.loads(zygote.recv(MAX_MESSAGE))
        self.pid = reply["pid"]
        self.args = None
        self.returncode = None
        # Owned by this object, as a Popen's pipes are; Metaflow reads and closes them.
        self.stdin = os.fdopen(in_w, "wb")
        self.stdout = os.fdopen(out_r, "rb")
        self.stderr = os.fdopen(err_r, "rb")

    def _collect(self, block):
        if self.returncode is not None:
            return
        self._zygote.setblocking(block)
        try:
            data = self._zygote.recv(MAX_MESSAGE)
        except BlockingIOError:
            return
        finally:
            self._zygote.setblocking(True)
        # The zygote gone without a word: the step process went with it (same process group).
        self.returncode = json.loads(data)["exit"] if data else -signal.SIGKILL

    def poll(self):
        self._collect(block=False)
        return self.returncode

    def wait(self, timeout=None):
        self._collect(block=True)
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


def _zygote(sock, env_at_fork, baseline):
    """Forks step processes on request from a copy of the job child made before it ran anything,
    so each step starts from the worker's imports, as a new interpreter would, not from the
    state the spin runtime built up."""
    code = 0
    try:
        while True:
            try:
                payload, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
            except OSError:
                break
            if not payload:
                break
            request = json.loads(payload)
            pid = os.fork()
            if pid == 0:
                sock.close()
                _step_process(request, fds, env_at_fork, baseline)  # never returns
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
            _, status = os.waitpid(pid, 0)
            sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
    except BaseException:
        traceback.print_exc()
        code = 1
    _leave(code)


def _module_headroom():
    """`_headroom` from a module frame made as `exec_as_main` makes the flow's (call it from
    where exec_as_main is called): what the flow's own code will have."""
    namespace = {"_headroom": _headroom}
    exec("headroom = _headroom()", namespace)
    return namespace["headroom"]


def _step_process(request, fds, env_at_fork, baseline):
    """`python flow.py spin-step ...`, in a fork: the pipes, argv, folder and environment Metaflow
    gave the command, the flow file executed fresh as `__main__`."""
    code = 1
    try:
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        _std_streams()
        env = dict(env_at_fork)
        for key in request["unset"]:
            env.pop(key, None)
        env.update(request["set"])
        os.environ.clear()
        os.environ.update(env)
        os.chdir(request["cwd"])
        argv = request["argv"]
        sys.argv = list(argv[1:])
        flow_dir = os.path.dirname(os.path.abspath(argv[1]))
        if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(HERE):
            sys.path[0] = flow_dir  # `python flow.py` puts the script's folder first
        else:
            sys.path.insert(0, flow_dir)
        # `__main__` is as the worker left it: bare but for what Metaflow's import put there
        # (`__main__.ForeachFrame`, which foreach artifacts are pickled against).
        # The frames below the flow's module (ours, down to the worker's main) are not the user's:
        # allow for them, so recursion fails at the depth it would in `python flow.py` (the
        # corpus's recursion case checks that the same frame fails on both paths).
        sys.setrecursionlimit(sys.getrecursionlimit() + SCRIPT_HEADROOM - _module_headroom())
        try:
            sys.modules["_flowmcp_driver"].exec_as_main(argv[1])
            code = 0
        except SystemExit as ex:
            code = _exit_code(ex)
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        import atexit

        atexit._run_exitfuncs()  # what interpreter shutdown would run; the rest is skipped
        _report_learned(baseline, request.get("job_dir"))
    except BaseException:
        traceback.print_exc()
    finally:
        _leave(code)


# --------------------------------------------------------------------------- main


def main(argv, startup_modules=STARTUP_MODULES):
    with open(argv[1]) as f:
        config = json.load(f)
    config["startup_modules"] = startup_modules
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(HERE):
        # `python worker.py` put flowmcp's bridge folder first: no name may resolve there when
        # the worker decides what is an installed library. Each job child puts it back, as
        # `python driver.py` has it.
        del sys.path[0]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(config["socket"])  # before the imports: the server may connect and wait
    listener.listen(64)
    worker = Worker(config)
    _load_driver()
    worker.preload(CORE + list(config.get("modules", [])))
    print("flowmcp worker %d ready: %d modules; skipped %s; hazard %s" % (
        os.getpid(), len(sys.modules), sorted(worker.skipped), worker.hazard), file=sys.stderr, flush=True)
    try:
        worker.serve(listener)
    finally:
        listener.close()
        try:
            os.unlink(config["socket"])
        except OSError:
            pass


def _bootstrap(argv, main_globals):
    # As the driver does: the flows forked from here execute in `__main__`, which must be bare.
    spec = importlib.util.spec_from_file_location("_flowmcp_worker", os.path.abspath(__file__))
    worker = importlib.util.module_from_spec(spec)
    sys.modules["_flowmcp_worker"] = worker
    spec.loader.exec_module(worker)
    startup = main_globals["STARTUP_MODULES"]  # this run's, taken before our imports
    worker.SCRIPT_HEADROOM = main_globals["SCRIPT_HEADROOM"]  # measured as a script, not a module
    for name in [n for n in main_globals if not n.startswith("__")]:
        del main_globals[name]
    worker.main(argv, startup)


if __name__ == "__main__":
    _bootstrap(sys.argv, globals())
