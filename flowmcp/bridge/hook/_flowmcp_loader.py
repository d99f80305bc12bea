"""The one place flowmcp's code is loaded by file path, in the project's interpreter.

flowmcp is not installed in the project's environment. Every process flowmcp starts there (the
driver, the warm worker, step processes) has this folder first on PYTHONPATH, so `import
_flowmcp_loader` works in each, and this module loads flowmcp's package folder under the name
`_flowmcp`. From then on the project-side modules import each other the ordinary way; they use
only the standard library and Metaflow, and so do the package `__init__` files they pass through.
"""

import importlib
import importlib.util
import os
import sys

PACKAGE = "_flowmcp"
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def package():
    """flowmcp's package folder as the module `_flowmcp` (loaded once per process)."""
    module = sys.modules.get(PACKAGE)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, os.path.join(PACKAGE_DIR, "__init__.py"), submodule_search_locations=[PACKAGE_DIR])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
    return module


def load(name):
    """A module of flowmcp's package by its dotted name inside it, e.g. "bridge.capture"."""
    package()
    return importlib.import_module("%s.%s" % (PACKAGE, name))


def run_script(name, main_globals, argv, **options):
    """Run `main(argv, **options)` of a project-side module for a thin entry script.

    The entry script is `__main__`, and the user's flow will execute there as under `python
    flow.py`: leave it as bare as a new interpreter's, and flowmcp's folder off sys.path."""
    here = os.path.dirname(os.path.abspath(main_globals["__file__"]))
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(here):
        del sys.path[0]
    module = load(name)
    for key in [k for k in main_globals if not k.startswith("__")]:
        del main_globals[key]
    main_globals.pop("__cached__", None)
    return module.main(argv, **options)
