"""The warm worker: a long-lived process of the project's Python that keeps Metaflow and the
flow's third-party libraries imported, and forks one child per job instead of starting Python.

Three kinds of process take part in a warm spin:

- the worker (`Worker`): imports, then serves jobs on a Unix socket. It never runs the user's
  code, so it stays as fresh as a just-started interpreter that imported the same modules.
- a job child, forked per job (`fork.job_child`): its own session, the job's environment and
  output file, then the job exactly as `python driver.py` runs it.
- the step process, forked by the job's zygote when Metaflow launches `python flow.py spin-step`
  (`steps.StepLauncher`): the flow file runs fresh as `__main__`, with Metaflow's pipes and argv.

A job child and its step process report the modules they imported that the worker lacked; the
worker imports those that live in site-packages or the standard library, so the next spin finds
them loaded too. Project modules are never imported here: they are read fresh by every job.
"""

import gc
import importlib
import importlib.util
import json
import os
import re
import selectors
import signal
import socket
import sys
import time

from ... import metaflow_compat as compat
from .. import dispatch, tree  # noqa: F401 (dispatch: loaded before any fork, so no job pays for it)
from . import fork, preload, spare, steps
from .process import MAX_MESSAGE

IDLE_EXIT_S = 900.0  # a worker unused this long exits (the server may set another time)
BACK_TO_BACK_S = 0.1  # a job starting this soon after the last one ended: jobs come back to back


class Worker:
    def __init__(self, config):
        self.dirs = preload.library_dirs()
        self.fingerprint = preload.fingerprint([d for d in self.dirs if os.path.isdir(d)]
                                       + compat.config_files(config["root"]))
        self.env_at_start = dict(os.environ)
        self.preloaded = []
        self.skipped = dict(config.get("deny") or {})  # module -> why it was not preloaded
        self.hazard = None
        self.unsupported = None  # the warm path cannot work with this Metaflow: why
        self.hazard_module = None
        self.jobs = {}  # job child pid -> (connection, job folder); no connection once its exit was told
        self.done = {}  # job child pid -> the socket on which it tells its end
        self.spare = None  # (pid, socket) of a job child forked ahead, waiting for a job
        self.server_gone = False  # its pipe closed: the server died (or left) without us
        self.spares = spare.enabled()
        self.copy_ahead = self.spares and spare.can_copy_ahead()  # else spares save the fork alone
        self.working = None  # {"job": runs, "step": runs}: the pages a spin's processes wrote
        self.last_end = 0.0  # when the last job ended (monotonic)
        self.back_to_back = False  # jobs come with no idle moment between them (a test suite)
        self.wakeup_fds = ()
        self.startup_modules = frozenset(config.get("startup_modules") or ())
        self.idle_exit_s = float(config.get("idle_exit_s") or IDLE_EXIT_S)
        self.last_used = time.monotonic()
        self.selector = selectors.DefaultSelector()

    # ---- imports

    def preload(self, names):
        """Import installed libraries among `names` (dotted), stopping if one makes forking unsafe.
        The cyclic collector is off meanwhile: imports make long-lived objects, and collecting
        during them costs time a waiting spin sees."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._preload(names)
        finally:
            if enabled:
                gc.enable()

    def _preload(self, names):
        done = []
        for name in names:
            if self.hazard or name in sys.modules or name in self.skipped:
                continue
            top = name.split(".")[0]
            if top in self.skipped:
                continue
            if top in preload.FORK_UNSAFE:
                self.skipped[name] = "not preloaded: " + preload.FORK_UNSAFE[top]
                continue
            if top.startswith("_flowmcp") or top == "__main__":
                continue
            why = preload.installed_origin(top, self.dirs) if top not in sys.modules else None
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
            hazard = preload.fork_hazard()
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
        names, patterns, pages = [], [], {}
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
                known = top in sys.modules or top in preload.STDLIB
                if known and (path is None or preload.inside(path, self.dirs)):
                    names.append(name)
            patterns.extend(reported.get("patterns", []))
            if reported.get("pages_of") in ("job", "step"):
                pages.setdefault(reported["pages_of"], []).extend(reported.get("pages") or [])
        if names:
            self.retire_spare()  # forked without them
            self.preload(sorted(set(names), key=lambda n: (n.count("."), n)))
        if self.working is None and pages.get("job") and pages.get("step"):
            # A spin or run's processes, forked plainly, said what they wrote: spares copy that
            self.working = {kind: sorted(map(tuple, runs)) for kind, runs in pages.items()}
            self.retire_spare()  # it copied nothing ahead
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
            "unsupported": self.unsupported,
            "hazard_module": self.hazard_module,
            "modules": len(sys.modules),
            "spare": self.spare[0] if self.spare else None,
            "spares": self.spares,
            "copy_ahead": self.copy_ahead,
            # The pages a spare copies ahead, in kB: what a spin's job child and step process wrote
            "copied_ahead_kb": {kind: sum(end - start for start, end in runs) // 1024
                                for kind, runs in (self.working or {}).items()},
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
            self.keep_spare()
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
                        self.server_gone = True
                        self.stop_jobs()  # the server is gone: nobody reads their answers
                        return  # nor will anybody ask for more
                elif isinstance(key.data, tuple):
                    self.job_said_done(key.fileobj, key.data[1])
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
            send(conn, {"ok": False, "refused": "worker error: %s: %s" % (type(ex).__name__, ex)})
            conn.close()

    def handle(self, conn, request):
        self.last_used = time.monotonic()
        op = request.get("op")
        if op == "status":
            send(conn, self.status())
            conn.close()
        elif op == "job":
            self.start_job(conn, request)
        else:
            send(conn, {"ok": False, "refused": "unknown request %r" % op})
            conn.close()

    def refusal(self, job):
        """Why this job must take the plain path, or None."""
        if self.unsupported:
            return self.unsupported
        if self.hazard:
            return "forking is not safe here: " + self.hazard
        env = job["env"]
        for key in sorted(set(env) | set(self.env_at_start)):
            if key in preload.PER_JOB_ENV or not key.startswith(preload.IMPORT_TIME_ENV):
                continue
            if env.get(key) != self.env_at_start.get(key):
                return "the job's environment differs from the worker's (%s)" % key
        shadowed = preload.shadowed_modules(job.get("flow_dir"), self.startup_modules)
        if shadowed:
            return "the flow's folder has %s, which would shadow the library of that name" % (
                ", ".join(sorted(shadowed)[:3]))
        return None

    def start_job(self, conn, job):
        why = self.refusal(job)
        if why:
            send(conn, {"ok": False, "refused": why})
            conn.close()
            return
        env_changes = {k: v for k, v in os.environ.items() if self.env_at_start.get(k) != v}
        env_removed = [k for k in self.env_at_start if k not in os.environ]
        if not self.jobs:
            self.back_to_back = time.monotonic() - self.last_end < BACK_TO_BACK_S
        if self.working is None and self.spares and job.get("driver_op") in fork.FORKED_STEPS_OPS:
            job = dict(job, learn_pages=True)  # what spares will copy ahead: this job's processes say
        pid, done = self.hand_to_spare({"job": job, "env_changes": env_changes, "env_removed": env_removed})
        if pid is None:
            done, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pid = os.fork()
            if pid == 0:
                try:
                    self.close_in_child(conn)
                    done.close()
                    fork.job_child(job, env_changes, env_removed, theirs)  # never returns
                finally:
                    os._exit(1)  # a fork never returns into the worker's loop, whatever happened
            theirs.close()
        self.jobs[pid] = (conn, job.get("job_dir"))
        # The job says it is over before its memory is freed: the server hears it then
        self.done[pid] = done
        self.selector.register(done, selectors.EVENT_READ, ("done", pid))
        send(conn, {"ok": True, "pid": pid})

    # ---- the spare job child

    def spare_wanted(self):
        """Whether to fork a spare job child now: unless forking is off here, while idle — or,
        when jobs come back to back (no idle moment to fork it in), beside one running job: a
        spin's processes run one at a time, and the spare copies its pages on another processor
        meanwhile. Never beside more jobs (a run's parallel tasks, a spin and a describe): it
        would take their processor time. A job that has told its end counts as over: it is only
        leaving (its zygote, its memory), and the next job may come before it has left."""
        running = sum(1 for conn, _ in self.jobs.values() if conn is not None)
        busy = running > (1 if self.back_to_back else 0)
        return self.spare is None and not busy and self.spares and not (self.hazard or self.unsupported)

    def keep_spare(self):
        if not self.spare_wanted():
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        worker_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self.close_in_child(None)
                ours.close()
                fork.spare_child(theirs, worker_pid, self.working)  # never returns
            finally:
                os._exit(1)  # a fork never returns into the worker's loop, whatever happened
        theirs.close()
        self.spare = (pid, ours)

    def hand_to_spare(self, handed):
        """Give the job to the spare: (its pid, its socket, now the job's), or (None, None) when
        there is none (or it is gone)."""
        if self.spare is None:
            return None, None
        pid, sock = self.spare
        self.spare = None
        try:
            sock.sendall(json.dumps(handed).encode() + b"\n")
        except OSError:
            self.retire_spare(pid, sock)
            return None, None
        return pid, sock

    def job_said_done(self, sock, pid):
        """A job child told its exit status as it left: pass it on now (reaping it comes later)."""
        try:
            said = json.loads(sock.recv(256) or b"{}")
        except (OSError, ValueError):
            said = {}
        self.forget_done(pid)
        conn, job_dir = self.jobs.get(pid, (None, None))
        self.last_end = time.monotonic()
        if "exit" in said and conn is not None:
            try:
                send(conn, {"exit": said["exit"]})
            except OSError:
                pass
            conn.close()
            self.jobs[pid] = (None, job_dir)

    def retire_spare(self, pid=None, sock=None):
        """End the spare (its session: the zygote and spare step process too): it holds a copy
        of a state the worker has moved on from, or nobody will need it."""
        if pid is None:
            if self.spare is None:
                return
            (pid, sock), self.spare = self.spare, None
        sock.close()
        for kill in (os.kill, os.killpg):  # the group may not exist yet (it makes it first thing)
            try:
                kill(pid, signal.SIGKILL)  # its zygote and spare step process die with it
            except OSError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def forget_done(self, pid):
        sock = self.done.pop(pid, None)
        if sock is not None:
            self.selector.unregister(sock)
            sock.close()

    def stop_jobs(self):
        """Stop every running job with all its processes: the server that asked for them died, and
        a run would otherwise go on with nobody to read it. Each job stops its own tree (it is the
        subreaper of whatever left its session: `tree.stop`), as a cold job does when the kernel
        tells it its parent died; one that has not ended by then is killed with its group. A
        worker that dies itself leaves its jobs running: the server still waits for them."""
        self.retire_spare()
        for pid in self.jobs:
            try:
                os.kill(pid, tree.PARENT_GONE)
            except OSError:
                pass
        deadline = time.monotonic() + tree.STOP_WITHIN_S
        while self.jobs and time.monotonic() < deadline:  # reaped, not learned from: we are leaving
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                self.jobs.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in list(self.jobs):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    def close_in_child(self, conn):
        """A job child keeps none of the worker's sockets and pipes (a job holding the listening
        socket or a connection would keep the server from seeing the worker go)."""
        if conn is not None:
            conn.close()
        if self.spare is not None:
            self.spare[1].close()
        for key in list(self.selector.get_map().values()):
            if key.data in ("server", "signal"):
                continue  # stdin is replaced by /dev/null in the child; the wakeup pipe is below
            key.fileobj.close()
        self.selector.close()
        for other, _ in self.jobs.values():
            if other is not None:
                other.close()
        for fd in self.wakeup_fds:
            os.close(fd)

    def reap(self):
        while self.jobs or self.spare:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.spare is not None and pid == self.spare[0]:
                # A spare only ends when told to: one that died is a fault of this machine's
                # (a kernel refusing what it does, a kill), so no more are made; jobs fork.
                self.spare[1].close()
                self.spare, self.spares = None, False
                print("flowmcp worker: the spare job child ended (%s); jobs fork from now on"
                      % os.waitstatus_to_exitcode(status), file=sys.stderr, flush=True)
                continue
            self.forget_done(pid)
            conn, job_dir = self.jobs.pop(pid, (None, None))
            if conn is not None:
                self.last_end = time.monotonic()
                try:
                    send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                except OSError:
                    pass
                conn.close()
            if job_dir and not self.hazard:
                self.learn(job_dir)


def send(conn, message):
    conn.sendall(json.dumps(message).encode() + b"\n")


def main(argv, startup_modules=frozenset(), script_headroom=None, headroom=None):
    """`python worker.py CONFIG.json`: bind, import, serve until idle or the server is gone.
    `startup_modules`, `script_headroom` and `headroom` (the function that measured it) come from
    the entry script, which saw them before any import."""
    with open(argv[1]) as f:
        config = json.load(f)
    config["startup_modules"] = startup_modules
    if script_headroom is not None:
        steps.SCRIPT_HEADROOM, steps.headroom = script_headroom, headroom
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound and listening before the imports: the server may connect and wait. The socket gets
    # its name only once it listens, so a connection is never refused between bind and listen.
    bound = config["socket"] + ".new"
    listener.bind(bound)
    listener.listen(64)
    os.rename(bound, config["socket"])
    worker = Worker(config)
    # The step hook summarizes what a step set with handlers it imports at its first summary:
    # imported here, once, not in every step process (ours, not the project's: always safe).
    from ....summarize.artifacts import handlers  # noqa: F401
    worker.preload(preload.CORE + list(config.get("modules", [])))
    compat.remember_version()
    lacking = compat.missing("warm")
    if lacking:  # every job is refused, with the reason the answer gives
        worker.unsupported = "this Metaflow lacks %s, which the warm path needs" % ", ".join(lacking)
    print("flowmcp worker %d ready: %d modules; skipped %s; hazard %s" % (
        os.getpid(), len(sys.modules), sorted(worker.skipped), worker.hazard), file=sys.stderr, flush=True)
    try:
        worker.serve(listener)
    finally:
        worker.retire_spare()
        listener.close()
        try:
            os.unlink(config["socket"])
            if worker.server_gone:
                # The server died without cleaning up: the last of its workers removes the
                # socket folder (a server that lives on removes it when it stops). Told by the
                # closed pipe, not by getppid(): a killed server's pipe closes before the kernel
                # gives its children a new parent, so getppid() may still name it here.
                os.rmdir(os.path.dirname(config["socket"]))
        except OSError:
            pass

