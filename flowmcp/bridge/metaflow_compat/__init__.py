"""The one place that knows Metaflow's private names, patches and on-disk layouts (the seam).

Runs inside the project's interpreter (the driver, the warm worker, step processes), so it is
standard library only and imports Metaflow lazily. Every entry says what it relies on and the
Metaflow versions it was checked against; everything else in the bridge asks here.

Checked against: metaflow 2.19.39; entries name older releases where they differ, and `.ci/matrix`
runs the end-to-end core on 2.19.0, 2.19.20 and 2.19.39. One module per concern: `features` (what
is needed, what is missing), `layout` (folders and files), `client` (reading runs and spins),
`flows` (parameters, configs, decorators), `cli` (the flow's CLI in-process), `datastore` (the
step process).

What flowmcp needs of Metaflow's internals is checked at start (`missing`, per feature). Where
something is missing, the feature that needs it is off, the plain path takes over (printed
tracebacks, a new interpreter, Metaflow's own spin), and answers say so once. The environment
variable FLOWMCP_HIDE_METAFLOW (`module:Attr.path,...`) makes named internals count as missing,
so the degraded paths can be exercised on a Metaflow that has them (tests, `flowmcp doctor`).
"""

from .cli import (  # noqa: F401 (the seam's face: callers write compat.<name>)
    after_import,
    assume_repository_info,
    catch_cli_errors,
    catch_usage_errors,
    defer_code_package,
    forget_cli,
    record_cli_state,
    remember_version,
    replace_runtime_subprocess,
    repository_info,
    when_cli_imported,
)
from .client import (  # noqa: F401 (the seam's face: callers write compat.<name>)
    any_namespace,
    run,
    spin_task,
    step,
    task,
)
from .datastore import (  # noqa: F401 (the seam's face: callers write compat.<name>)
    content_key,
    content_keys,
    flow_datastore,
    foreach_frames,
    input_artifact_names,
    input_datastores,
    input_label,
    install_persist_hook,
    install_spin_passdown_guard,
    is_flow,
    parameter_names,
    retry_count,
    saved_as_artifact,
    saved_keys,
    spin_overrides,
    stored_size,
    wrap_step_function,
)
from .features import (  # noqa: F401 (the seam's face: callers write compat.<name>)
    FEATURES,
    degraded,
    missing,
)
from .flows import (  # noqa: F401 (the seam's face: callers write compat.<name>)
    flow_class_of,
    flow_decorator_names,
    flow_parameters,
    parameter_settings,
    step_decorator_names,
)
from .layout import (  # noqa: F401 (the seam's face: callers write compat.<name>)
    CACHED_STORES,
    LATEST_RUN,
    LOCAL_DIR,
    PERSIST_MARKER,
    SPIN_CARDS,
    SPIN_DIR,
    blob_files,
    client_cache_copies,
    config_files,
    has_local_runs,
    is_run_id,
    is_spin_run,
    latest_run_file,
    local_datastore_root,
    local_run_ids,
    saved_objects,
    spin_card_files,
    spin_card_folder,
    spin_flow_folder,
    spin_persisted,
    spin_root,
    spin_run_ids,
    spin_steps,
    task_runtime_record,
)
