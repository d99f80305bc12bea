"""A flow class's parameters, configs and decorators, as Metaflow keeps them (checked: 2.19.39)."""



def flow_parameters(cls):
    """A flow class's Parameters and Configs. Checked: 2.19.39 (`FlowSpec._get_parameters`
    yields (attribute name, parameter))."""
    return [param for _, param in cls._get_parameters()]


def parameter_settings(param):
    """A Parameter's settings: explicit arguments win over **kwargs, as `Parameter.init` does.
    Checked: 2.19.39 (`Parameter.kwargs`, `Parameter._override_kwargs`)."""
    kwargs = {k: v for k, v in (getattr(param, "kwargs", None) or {}).items() if v is not None}
    kwargs.update({k: v for k, v in (getattr(param, "_override_kwargs", None) or {}).items() if v is not None})
    return kwargs

def flow_class_of(value):
    """The FlowSpec class behind a module attribute: a bare `@SomeFlowMutator` leaves the
    mutator object in the class's place. Checked: 2.19.39 (`FlowMutator._flow_cls`)."""
    try:
        from metaflow import FlowMutator
    except ImportError:  # older 2.19 releases call it differently; nothing to unwrap then
        return value
    if isinstance(value, FlowMutator):
        return getattr(value, "_flow_cls", None) or value
    return value


def flow_decorator_names(cls):
    """Names of a flow's own decorators (@project, @conda_base, ...). `_flow_decorators` is a
    property of instances; the class keeps them in its flow state. Checked: 2.19.39."""
    try:
        from metaflow.flowspec import FlowStateItems

        return sorted(cls._flow_state[FlowStateItems.FLOW_DECORATORS])
    except Exception:
        return []


def step_decorator_names(node):
    """Names of a graph node's decorators: Metaflow's (`@retry`) and user step decorators and
    mutators (`node.wrappers`). Checked: 2.19.39."""
    names = [d.name for d in getattr(node, "decorators", [])]
    for wrapper in getattr(node, "wrappers", []) or []:
        name = getattr(wrapper, "decorator_name", None)
        if name:
            names.append(name)
    return names
