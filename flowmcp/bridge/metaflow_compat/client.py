"""Metaflow's Client, reading any run in this root and spins without global state (checked: 2.19.39)."""

from .layout import spin_root


def any_namespace():
    """Read any run in this root, whoever started it (the Client defaults to the user's own)."""
    import metaflow

    metaflow.namespace(None)


def run(pathspec):
    from metaflow import Run

    return Run(pathspec, _namespace_check=False)


def step(pathspec):
    from metaflow import Step

    return Step(pathspec, _namespace_check=False)


def task(pathspec):
    from metaflow import Task

    return Task(pathspec, _namespace_check=False)


def spin_task(pathspec, root=None):
    """A spun task, read with the spin metadata provider for `root` (the folder holding
    `.metaflow_spin`; this process's by default) without touching the process-global
    `inspect_spin` state, as Metaflow's Runner does. Checked: 2.19.39
    (`MetaflowObject(_current_metadata=...)`)."""
    from metaflow import Task

    return Task(pathspec, _namespace_check=False, _current_metadata="spin@" + str(root or spin_root()))
