"""In a step process: the step function, the task's datastore and its content keys (checked: 2.19.39)."""

import sys

from .features import missing


def wrap_step_function(task_module, wrap):
    """Replace the method that runs the user's step function with `wrap(original)`; False when
    the capture feature is off. Checked: 2.19.39
    (`MetaflowTask._exec_step_function(self, step_function, orig_step_func[, input_obj])`)."""
    if missing("capture"):
        return False
    task_class = task_module.MetaflowTask
    task_class._exec_step_function = wrap(task_class._exec_step_function)
    return True


def input_artifact_names(flow):
    """Artifact names of a step's input, without loading any of them (a spin datastore's `in`
    loads the value to answer, so read the indexes). Checked: 2.19.39 (`FlowSpec._datastore`,
    `TaskDataStore._objects`, `SpinTaskDatastore.spin_artifacts`)."""
    try:  # the instance's own attribute: never a user class's __getattr__ (never fail while describing)
        ds = vars(flow).get("_datastore")
    except TypeError:
        return set()
    names = set()
    for index in ("_objects", "spin_artifacts"):
        try:
            names.update(getattr(ds, index, None) or {})
        except Exception:
            pass
    return names


def install_spin_passdown_guard():
    """Let a spun join (or any spun step) read artifacts passed down from its inputs.

    `merge_artifacts` and a join's Parameters are passed down by content key
    (`TaskDataStore.passdown_partial`): the key is copied, the blob is not. In a spin the inputs
    are `SpinTaskDatastore`s over the original run's datastore, while the step's own datastore is
    the spin datastore, so reading such an artifact looks for a blob that is not there and fails
    with `TypeError: expected str, bytes or os.PathLike object, not NoneType` in
    `content_addressed_store.load_blobs` (Metaflow's own `spin` too). Copying the missing blobs
    across when they are passed down, as Metaflow's persist does for a linear step's unchanged
    inputs (`transfer_artifacts`), makes them readable and persistable. Checked: 2.19.39."""
    if missing("spin_guard"):
        return
    from metaflow.datastore.task_datastore import TaskDataStore

    original = TaskDataStore.passdown_partial
    if getattr(original, "_flowmcp_guard", False):
        return

    def passdown_partial(self, origin, variables):
        original(self, origin, variables)
        source = getattr(origin, "orig_datastore", None)  # only a SpinTaskDatastore has one
        if source is None or not hasattr(self, "transfer_artifacts"):
            return
        names = [v for v in variables if v in getattr(source, "_objects", {})]
        if names:
            self.transfer_artifacts(source, names=names)

    passdown_partial._flowmcp_guard = True
    TaskDataStore.passdown_partial = passdown_partial


def install_persist_hook(callback):
    """Call `callback(output_datastore, flow, values, error)` after a task's artifacts are saved.

    `values` maps the flow's attributes to their objects as they were before saving: Metaflow's
    persist deletes them from the flow to free memory. `error` is the exception persist raised
    (an artifact that cannot be pickled), then re-raised. Checked: 2.19.39
    (`TaskDataStore.persist(flow)` is called once per task, after the step function)."""
    from metaflow.datastore.task_datastore import TaskDataStore

    original = TaskDataStore.persist

    def persist(self, flow):
        try:
            values = dict(vars(flow))
        except Exception:
            values = {}
        try:
            original(self, flow)
        except BaseException as ex:
            callback(self, flow, values, ex)
            tb = ex.__traceback__
            if tb is not None and tb.tb_frame is sys._getframe():  # not ours to show (see sitecustomize)
                ex.__traceback__ = tb.tb_next
            raise
        callback(self, flow, values, None)

    TaskDataStore.persist = persist


def content_keys(datastore):
    """{artifact name: content key} a datastore holds (or was handed down); {} if unknown."""
    try:
        return dict(getattr(datastore, "_objects", None) or {})
    except Exception:
        return {}


def stored_size(datastore, name):
    """Serialized size in bytes of an artifact a datastore holds, or None."""
    try:
        return int((datastore._info.get(name) or {}).get("size"))
    except Exception:
        return None


def saved_keys(datastore):
    """The content keys persist wrote, or None when this task stores nothing (a spin without
    --persist: `TaskDataStore._persist` is False and persist returns at once)."""
    if not getattr(datastore, "_persist", True):
        return None
    return content_keys(datastore)


def spin_overrides(datastore):
    """Input values a spin's artifacts module overrides ({} outside a spin)."""
    return dict(getattr(datastore, "spin_artifacts", None) or {})


def content_key(datastore, value):
    """The content key Metaflow would store `value` under: the first serializer that takes it
    (2.19.3x's pluggable serializers; pickle protocol 4 before them), then SHA-1 of the blob, as
    `ContentAddressedStore.save_blobs` computes it."""
    import hashlib

    serializers = getattr(datastore, "_serializers", None)
    if serializers is None:
        import pickle

        return hashlib.sha1(pickle.dumps(value, protocol=4)).hexdigest()
    from metaflow.datastore.artifacts.serializer import SerializationFormat

    for serializer in serializers:
        if serializer.can_serialize(value):
            blobs, _ = serializer.serialize(value, format=SerializationFormat.STORAGE)
            blob = blobs[0].value
            return hashlib.sha1(blob).hexdigest()
    return None


def saved_as_artifact(value):
    """Whether Metaflow saves an attribute holding `value`: everything but methods, functions and
    Parameters — a class, a torch module or any other callable object is saved. Checked: 2.19.39
    (`TaskDataStore.persist`)."""
    from types import FunctionType, MethodType

    from metaflow.parameters import Parameter

    return not isinstance(value, (MethodType, FunctionType, Parameter))


def parameter_names(flow):
    """Artifact names of a flow's Parameters and Configs: inputs every task holds, never set by a
    step. Checked: 2.19.39 (`FlowSpec._get_parameters` yields (attribute name, parameter))."""
    try:
        return {name for name, _ in flow._get_parameters()}
    except Exception:
        return set()


def flow_datastore(flow):
    """The datastore a task's flow object reads from: the input's for a linear step, the task's
    own for a join."""
    return getattr(flow, "_datastore", None)


def input_datastores(flow, input_obj):
    """The datastores a step's inputs came from: each input of a join, else the one input."""
    if input_obj is not None:
        found = []
        for inp in input_obj:
            ds = getattr(inp, "_datastore", None)
            if ds is not None:
                found.append(ds)
        return found
    ds = flow_datastore(flow)
    return [ds] if ds is not None else []


def is_flow(obj):
    """A FlowSpec instance (a step's `self`, or one input of a join)."""
    from metaflow import FlowSpec

    return isinstance(obj, FlowSpec)


def input_label(inp, position):
    """How to name one input of a join: the step it came from, and its foreach index if any.
    Checked: 2.19.39 (`FlowSpec._current_step`, `FlowSpec.index` inside a foreach)."""
    label = "inputs[%d]" % position
    try:
        step = vars(inp).get("_current_step")
        if step:
            label += " (%s" % step
            index = getattr(inp, "index", None)
            label += (", split %s)" % index) if index is not None else ")"
    except Exception:
        pass
    return label


def foreach_frames(flow):
    """The task's foreach stack, outermost first: Metaflow's ForeachFrame tuples (step, var,
    num_splits, index, value: the split's value as text, at most 30 characters). Empty outside a
    foreach. Checked: 2.19.39 (`FlowSpec._foreach_stack`; `value` since 2.12)."""
    try:
        return list(getattr(flow, "_foreach_stack", None) or [])
    except Exception:
        return []


def retry_count():
    """Which attempt of the task this process runs (0 for the first), or None outside a task.
    Checked: 2.19.39 (`current.retry_count`)."""
    try:
        from metaflow import current

        return int(current.retry_count)
    except Exception:
        return None
