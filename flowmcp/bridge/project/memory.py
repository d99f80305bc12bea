"""Whether the kernel's OOM killer stopped a process during a job, from the memory cgroup the
job runs in (its step processes are in the same one). Standard library only; Linux only: on
other systems, or where the counter cannot be read, it says nothing.

cgroup v2: `memory.events` (`oom_kill N`); v1: `memory.oom_control` (`oom_kill N`, kernels 4.13+).
"""

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def _cgroup_files(root=CGROUP_ROOT, proc="/proc/self/cgroup"):
    """(events file, limit file) candidates for this process's memory cgroup, most specific first."""
    try:
        with open(proc) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.lstrip("/")
        if controllers == "":  # v2: one unified hierarchy
            for base in (os.path.join(root, path), root):
                found.append((os.path.join(base, "memory.events"), os.path.join(base, "memory.max")))
        elif "memory" in controllers.split(","):
            for base in (os.path.join(root, "memory", path), os.path.join(root, "memory")):
                found.append((os.path.join(base, "memory.oom_control"), os.path.join(base, "memory.limit_in_bytes")))
    return found


def oom_kills(root=CGROUP_ROOT, proc="/proc/self/cgroup"):
    """The OOM kill counter of this process's memory cgroup, or None when it cannot be read."""
    for events, _ in _cgroup_files(root, proc):
        try:
            with open(events) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def memory_limit(root=CGROUP_ROOT, proc="/proc/self/cgroup"):
    """The memory limit of this process's cgroup in bytes, else the machine's memory, or None."""
    for _, limit in _cgroup_files(root, proc):
        try:
            with open(limit) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):  # v1 writes a huge number for "no limit"
            return int(text)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class OomWatch:
    """`with OomWatch() as watch:` around a job; `watch.result()` is {} or the kills it saw."""

    def __enter__(self):
        self.before = oom_kills()
        return self

    def __exit__(self, *exc):
        self.after = oom_kills()
        return False

    def result(self):
        if self.before is None or self.after is None or self.after <= self.before:
            return {}
        return {"oom_kills": self.after - self.before, "memory_limit": memory_limit()}
