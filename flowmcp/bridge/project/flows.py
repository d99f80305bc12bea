"""The flow a file defines, as `python flow.py` sees it: name, parameters, configs, graph.

DESCRIBE runs the file through Metaflow's own CLI (its `show` command, with the work replaced by
a recorder), so Configs are parsed and mutators applied exactly as for a run.
"""

import json
import os

from .. import metaflow_compat as compat
from ..protocol import FLOW_CLI, FLOW_IMPORT, NO_FLOW, SEVERAL_FLOWS, SYNTAX, JobError
from .cli import run_cli


def load_flow(flow_file):
    """The flow of a file as `python flow.py` sees it: (flow class, graph, Metaflow's refusal).

    The file runs as `__main__` with Metaflow's `show` command, whose work is replaced by a
    recorder: Metaflow's CLI processes the flow's Configs and mutators as for a run, and we keep
    the resulting class and graph. A file that never starts the CLI (no `Flow()` under
    `if __name__ == "__main__"`) is described from the classes it defines."""
    seen = {}

    def on_cli(cli):
        seen["started"] = True
        compat.record_cli_state(cli, "show", seen)

    code, caught = run_cli(flow_file, ["--quiet", "--no-pylint", "show"], on_cli=on_cli)
    if caught.get("syntax"):
        record = caught["syntax"]
        raise JobError(SYNTAX, "%s: %s" % (record.get("type"), record.get("message")), exception=record)
    if "obj" in seen:
        obj = seen["obj"]
        return type(obj.flow), obj.graph, None
    if caught.get("metaflow"):
        # Metaflow refused to start the flow's CLI (a @pypi step without --environment, a Config
        # file that does not parse): the flow is still what its classes say; runs will say why.
        error = caught["metaflow"]
        try:
            return _defined_flow(flow_file), None, error
        except JobError:
            raise JobError(FLOW_CLI, "%s: %s" % (error.get("headline") or error["type"], error["message"]),
                              metaflow=error)
    if caught.get("exception"):
        record = caught["exception"]
        raise JobError(FLOW_IMPORT, "loading the flow file failed: %s: %s"
                          % (record.get("type"), record.get("message")), exception=record)
    if code:
        raise JobError(FLOW_IMPORT, "the flow file called sys.exit(%r) while loading" % (code,))
    cls = _defined_flow(flow_file)
    if seen.get("started"):  # the CLI ran, but this Metaflow would not let us keep what it built
        return cls, None, None
    # `python file.py` would do nothing: a module of base flows, or a flow missing its last lines.
    return cls, None, {"type": "NotStarted", "headline": "Not a runnable flow file",
                       "message": "%s defines %s but never starts it: a flow file ends with "
                                  "`if __name__ == \"__main__\": %s()`"
                                  % (os.path.basename(flow_file), cls.__name__, cls.__name__)}


def _defined_flow(flow_file):
    """The one FlowSpec class a file defines (it did not start Metaflow's CLI itself)."""
    from metaflow import FlowSpec

    import __main__

    classes = []
    for value in list(vars(__main__).values()):
        value = compat.flow_class_of(value)
        if (isinstance(value, type) and issubclass(value, FlowSpec) and value is not FlowSpec
                and value.__module__ == "__main__" and value not in classes):
            classes.append(value)
    if not classes:
        raise JobError(
            NO_FLOW,
            "%s defines no FlowSpec subclass; a flow file defines exactly one "
            "`class MyFlow(FlowSpec)`." % os.path.basename(flow_file),
        )
    if len(classes) > 1:
        # Subclasses of another flow in the same file: the most derived one is the flow.
        leaves = [c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)]
        if len(leaves) != 1:
            raise JobError(
                SEVERAL_FLOWS,
                "%s defines several flows (%s); keep one FlowSpec subclass per file."
                % (os.path.basename(flow_file), ", ".join(c.__name__ for c in classes)),
            )
        classes = leaves
    return classes[0]


def _type_name(kwargs):
    t = kwargs.get("type")
    default = kwargs.get("default")
    if t is None and default is not None and not callable(default):
        t = type(default)  # Metaflow infers the type from the default the same way
    if t is None:
        return "str"
    if isinstance(t, type):
        return t.__name__
    # Metaflow's click types: say what the agent passes, not the class's name (`FilePathClass`).
    kind = type(t).__name__
    if "JSON" in kind:
        return "json"
    if "FilePath" in kind:
        return "file"
    return getattr(t, "name", None) or kind


def _jsonable(value):
    if callable(value):
        return "<computed at run time>"
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def describe_flow_class(cls, flow_file, graph=None):
    from metaflow.graph import FlowGraph

    params, configs = [], []
    for p in compat.flow_parameters(cls):
        kw = compat.parameter_settings(p)
        if getattr(p, "IS_CONFIG_PARAMETER", False):
            configs.append({"name": p.name, "default": _jsonable(kw.get("default", kw.get("default_value"))),
                            "required": bool(kw.get("required")), "help": kw.get("help")})
            continue
        params.append(
            {
                "name": p.name,
                "type": _type_name(kw),
                "default": _jsonable(kw.get("default")),
                "required": bool(kw.get("required")),
                "help": kw.get("help"),
                "is_file": type(p).__name__ == "IncludeFile",
            }
        )
    graph = graph if graph is not None else FlowGraph(cls)
    # Graph order first; steps no transition reaches (a typo in self.next) still exist: add them.
    ordered = [graph[name] for name in getattr(graph, "sorted_nodes", [])]
    ordered += sorted((n for n in graph if n not in ordered), key=lambda n: n.func_lineno)
    steps = [
        {
            "name": node.name,
            "type": node.type,
            "next": list(node.out_funcs),
            "foreach": node.foreach_param,
            "line": node.func_lineno,
            "inputs": list(node.in_funcs),
            "decorators": compat.step_decorator_names(node),
            "matching_join": getattr(node, "matching_join", None),  # of a split: the join that closes it
        }
        for node in ordered
    ]
    return {"flow_name": cls.__name__, "file": flow_file, "parameters": params, "configs": configs,
            "steps": steps, "flow_decorators": compat.flow_decorator_names(cls)}


def op_describe(req):
    cls, graph, cli_error = load_flow(req["flow_file"])
    described = describe_flow_class(cls, req["flow_file"], graph)
    described["cli_error"] = cli_error
    return described

