"""Facts read from live objects in the step process, to turn an exception into a one-edit fix.

`suggestions(...)`: what the missing name was probably meant to be — an attribute of any object,
a local or global name, a name a module defines, a module (local or installed), a key or column
of the table on the failing line — found by the interpreter's own rule (summarize/suggest.py).
`data_facts(...)`: what the data on the failing line holds that explains the error — which
columns hold NaN or infinities, the dtypes involved, inputs that are empty.

Only names on the failing line are looked at, and only read (never called, never evaluated).
Standard library only; pandas and numpy are used when the step already imported them.
"""

from __future__ import annotations

import os
import re
import sys

from ..summarize import artifacts as summaries
from ..summarize import suggest
from ..summarize.text import cut_end
from . import metaflow_compat as compat

MAX_LISTED = 12  # names listed in full when there are at most this many
MAX_SAMPLE = 5
MAX_FACTS = 4
MAX_FACT_CHARS = 240
MAX_EXAMPLE_CHARS = 40  # one value of a column, as an example
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_EXPR = r"(?:self\.)?" + _IDENT + r"(?:\." + _IDENT + r")*"
# Which kind of data fact explains a message (lower-cased)
_ABOUT_MISSING = re.compile(r"\bnan\b|infinit|\binf\b|missing values|contains null|null values")
_ABOUT_DTYPE = re.compile(
    r"dtype|could not convert|convert string|unsupported operand|cannot cast|not supported between"
    r"|must be real number|unknown label type|can only concatenate|invalid literal|numeric|not a number"
    r"|cannot be converted|ufunc '\w+' not supported|object of type '?str'? |arg must be a list, tuple"
    r"|string multiply|can't multiply sequence|must be str, not|not supported for the input types|expected str")
# Known packages whose import name is not their distribution's (what to `pip install`)
DISTRIBUTIONS = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml",
                 "bs4": "beautifulsoup4", "skimage": "scikit-image", "dateutil": "python-dateutil",
                 "dotenv": "python-dotenv", "Crypto": "pycryptodome", "attr": "attrs", "jwt": "pyjwt",
                 "magic": "python-magic", "docx": "python-docx", "pptx": "python-pptx", "fitz": "pymupdf",
                 "serial": "pyserial", "google.protobuf": "protobuf", "lightgbm": "lightgbm",
                 "xgboost": "xgboost", "statsmodels": "statsmodels", "torch": "torch", "tensorflow": "tensorflow"}


# ---------------------------------------------------------------------------- objects on the line


def lookup(frame, expr):
    """The object `name`, `self.attr` or `name.attr.attr` on the failing line refers to.

    Attributes are read from instance dictionaries only (never a property, never a call); a flow's
    parent artifact loads lazily from the datastore, as the step itself would load it. Raises
    LookupError when there is none."""
    parts = expr.split(".")
    if parts[0] not in frame.f_locals:
        if parts[0] in frame.f_globals:
            obj = frame.f_globals[parts[0]]
        else:
            raise LookupError(expr)
    else:
        obj = frame.f_locals[parts[0]]
    for i, attr in enumerate(parts[1:]):
        try:
            held = vars(obj)
        except TypeError:
            held = {}
        if attr in held:
            obj = held[attr]
            continue
        if i == 0 and parts[0] == "self" and attr in compat.input_artifact_names(obj):
            try:
                obj = getattr(obj, attr)  # an input artifact, loaded as the step would load it
                continue
            except Exception:
                pass
        raise LookupError(expr)
    return obj


def line_objects(frame, code, limit=8):
    """(expression, object) for the data on the failing line: names and `self.X` that hold values,
    not modules, classes or functions. For `a.b.c` the longest prefix that holds a value counts
    (`model.predict_prob(X)` is about `model`)."""
    out, seen = [], set()
    for match in re.finditer(r"(?<![\w.])(" + _EXPR + r")", code or ""):
        parts = match.group(1).split(".")
        for end in range(len(parts), 0, -1):
            expr = ".".join(parts[:end])
            if expr in seen or expr == "self":
                break
            try:
                value = lookup(frame, expr)
            except Exception:
                continue
            seen.add(expr)
            if not (isinstance(value, type) or callable(value) or type(value).__name__ == "module"):
                out.append((expr, value))
            break
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------- suggestions


def suggestions(ex, frame, code, tb_frame, root):
    """Did-you-mean records for the exception (see the module docstring); [] when none apply."""
    try:
        if isinstance(ex, ModuleNotFoundError):
            found = _module(ex, root)
        elif isinstance(ex, ImportError):
            found = _import_name(ex)
        elif isinstance(ex, AttributeError):
            found = _attribute(ex, frame, code)
        elif isinstance(ex, NameError):
            found = _name(ex, tb_frame)
        elif isinstance(ex, KeyError) or "not in index" in str(ex) or "not found in axis" in str(ex):
            found = _keys(ex, frame, code)
        else:
            found = None
    except Exception:
        return []
    if not found:
        return []
    return found if isinstance(found, list) else [found]


def _attribute(ex, frame, code):
    wrong = getattr(ex, "name", None) or _quoted_after(str(ex), "has no attribute")
    if not wrong:
        return None
    match = re.search(r"(?<![\w.])(" + _EXPR + r")\." + re.escape(wrong) + r"\b", code or "")
    expr = match.group(1) if match else None
    obj = getattr(ex, "obj", None)  # set by the interpreter since 3.10
    if obj is None and expr and frame is not None:
        try:
            obj = lookup(frame, expr)
        except Exception:
            obj = None
    if obj is None:
        return None
    artifacts = sorted(compat.input_artifact_names(obj))
    if artifacts or compat.is_flow(obj):
        # A flow (self, a join's input): its artifacts, including those still in the datastore
        try:
            held = list(vars(obj))
        except TypeError:
            held = []
        # Metaflow's own artifacts (`_foreach_stack`, `name`) are not the user's
        names = sorted(n for n in set(artifacts) | set(held) if not n.startswith("_") and n != "name")
        return {"kind": "attribute", "owner": expr or "self", "flow": True, "wrong": wrong,
                "close": suggest.closest(wrong, names), "names": names[:MAX_LISTED * 4], "count": len(names)}
    try:
        names = sorted(n for n in dir(obj) if isinstance(n, str))
    except Exception:
        return None
    # As Python: private names are hidden, unless the step looks inside its own object
    if not (frame is not None and frame.f_locals.get("self") is obj):
        names = suggest.public(names, wrong)
    close = suggest.closest(wrong, names)
    python = suggest.python_suggestion(wrong, names)
    if python and python not in close[:1]:
        close = [python] + [c for c in close if c != python]
    return {"kind": "attribute", "owner": expr or type(obj).__name__, "owner_type": _type_name(obj),
            "wrong": wrong, "close": close, "names": _sample(wrong, names), "count": len(names)}


def _name(ex, tb_frame):
    wrong = getattr(ex, "name", None) or _quoted_after(str(ex), "name")
    if not wrong or tb_frame is None:
        return None
    own = tb_frame.f_locals.get("self")
    if own is not None:
        try:
            if wrong in vars(own) or wrong in compat.input_artifact_names(own):
                return {"kind": "name", "wrong": wrong, "close": ["self." + wrong]}
        except TypeError:
            pass
    builtins = tb_frame.f_builtins
    names = list(tb_frame.f_locals) + list(tb_frame.f_globals) + list(
        builtins if isinstance(builtins, dict) else dir(builtins))
    found = suggest.python_suggestion(wrong, names)
    if not found:
        return None
    return {"kind": "name", "wrong": wrong, "close": [found]}


def _import_name(ex):
    match = re.search(r"cannot import name '([^']+)' from '([^']+)'", str(ex))
    if not match:
        return None
    wrong, module_name = match.groups()
    module = sys.modules.get(getattr(ex, "name", None) or module_name)
    if module is None:
        return None
    names = suggest.public(sorted(n for n in dir(module) if isinstance(n, str)), wrong)
    names = [n for n in names if type(getattr(module, n, None)).__name__ != "module" or n == wrong]
    return {"kind": "import", "module": module_name, "wrong": wrong, "close": suggest.closest(wrong, names),
            "names": _sample(wrong, names), "count": len(names)}


def _module(ex, root):
    """A missing module: close names among the project's own modules, then the installed ones
    (and the distributions that provide them); which distribution to install when it is known."""
    import pkgutil

    wrong = getattr(ex, "name", None) or _quoted_after(str(ex), "No module named")
    if not wrong:
        return None
    parent, _, child = wrong.rpartition(".")
    record = {"kind": "module", "wrong": wrong, "close": [], "interpreter": sys.executable}
    if parent and parent in sys.modules and getattr(sys.modules[parent], "__path__", None):
        children = sorted(m.name for m in pkgutil.iter_modules(sys.modules[parent].__path__))
        record["close"] = [{"name": parent + "." + c, "where": "in " + parent}
                           for c in suggest.closest(child, children)]
        return record
    top = wrong.split(".")[0]
    local = _local_modules(root)
    found = [{"name": c, "where": local[c]} for c in suggest.closest(top, sorted(local))]
    if not found:
        installed = {m.name for m in pkgutil.iter_modules() if m.name not in local}
        installed |= set(sys.builtin_module_names)
        providers = _providers()
        # a distribution's name typed as the module's (`import scikit_learn`)
        by_dist = {}
        for module, dists in providers.items():
            for dist in dists:
                by_dist.setdefault(_normal(dist), module)
        for dist in suggest.closest(_normal(top), sorted(by_dist), n=1):
            found.append({"name": by_dist[dist], "where": "installed, from " + dist})
        for c in suggest.closest(top, sorted(installed)):
            if all(f["name"] != c for f in found):
                where = ", ".join(providers.get(c, [])) or "standard library"
                found.append({"name": c, "where": "installed" + (", from " + where if where else "")})
    record["close"] = found[:3]
    record["install"] = DISTRIBUTIONS.get(wrong) or DISTRIBUTIONS.get(top) or top
    return record


def _local_modules(root):
    """Modules of the project: `name.py` files and packages at its top and the flow's folder."""
    found = {}
    for folder in {root, os.getcwd()}:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(folder, entry)
            if entry.endswith(".py") and entry[:-3].isidentifier():
                found.setdefault(entry[:-3], os.path.relpath(path, root))
            elif entry.isidentifier() and os.path.isfile(os.path.join(path, "__init__.py")):
                found.setdefault(entry, os.path.relpath(path, root) + "/")
    return found


def _providers():
    try:
        from importlib import metadata

        return dict(metadata.packages_distributions())  # 3.10+
    except Exception:
        return {}


def _normal(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _keys(ex, frame, code):
    """A key or column that is not there: for each table or mapping on the failing line that lacks
    it, the closest keys, and all of them when there are few."""
    if frame is None:
        return None
    wrong = _missing_keys(ex)
    if not wrong:
        return None
    out = []
    for expr, obj in line_objects(frame, code):
        labels, what = _labels(obj)
        if labels is None:
            continue
        texts = [str(k) for k in labels[:5000]]
        if all(w in texts for w in wrong):
            continue  # has it: not the one that failed
        close = []
        for w in wrong[:3]:
            close.extend(c for c in suggest.closest(w, texts) if c not in close)
        out.append({"kind": "key", "owner": expr, "owner_type": _type_name(obj), "what": what, "wrong": wrong,
                    "close": close[:3], "names": texts if len(texts) <= MAX_LISTED else _sample(wrong[0], texts),
                    "count": len(labels)})
        if len(out) >= 2:
            break
    return out


def _missing_keys(ex):
    """The keys a KeyError (or pandas' "not in index") is about, as text."""
    message = str(ex)
    if isinstance(ex, KeyError) and len(ex.args) == 1 and isinstance(ex.args[0], (str, int, float)) \
            and not re.search(r"not in index|not found in axis|None of \[", message):
        return [str(ex.args[0])]
    quoted = re.findall(r"'((?:[^'\\]|\\.)*)'", message)
    return [q for q in quoted if q not in ("object", "str", "int64", "float64", "string", "columns", "index")][:5]


def _labels(obj):
    """(keys, what they are called) of a table or mapping; (None, None) otherwise."""
    if hasattr(obj, "columns") and hasattr(obj, "iloc"):
        return list(obj.columns), "columns"
    if hasattr(obj, "index") and hasattr(obj, "iloc"):
        return list(obj.index[:5000]), "index labels"
    keys = getattr(obj, "keys", None)
    if isinstance(obj, dict) or (callable(keys) and hasattr(obj, "__getitem__")):
        try:
            return list(keys()), "keys"
        except Exception:
            return None, None
    return None, None


def _sample(wrong, names):
    """Names to list: all when few, else the closest first and then the first few."""
    if len(names) <= MAX_LISTED:
        return list(names)
    close = suggest.closest(wrong, names, n=MAX_SAMPLE)
    return close + [n for n in names if n not in close][: MAX_SAMPLE - len(close)]


def _quoted_after(message, marker):
    match = re.search(re.escape(marker) + r" '([^']+)'", message)
    return match.group(1) if match else None


def _type_name(obj):
    return type(obj).__name__


# ---------------------------------------------------------------------------- data facts


def data_facts(ex, frame, code):
    """One line per object on the failing line that explains the error: where the NaN and
    infinities are, the dtypes when the message is about types, and any empty input."""
    if frame is None:
        return []
    message = str(ex).lower()
    missing = bool(_ABOUT_MISSING.search(message))
    dtypes = bool(_ABOUT_DTYPE.search(message))
    facts = []
    foreach = re.search(r"foreach (?:iterator over|variable) \*?(?:self\.)?(\w+)\*?", message)
    if foreach:  # Metaflow's check of self.next(..., foreach="x"): the value of self.x
        try:
            value = lookup(frame, "self." + foreach.group(1))
            facts.append(cut_end("self.%s = %s." % (foreach.group(1), _brief(value)), MAX_FACT_CHARS))
        except Exception:
            pass
    try:
        for expr, obj in line_objects(frame, code):
            fact = _empty(expr, obj)
            if fact is None and missing:
                fact = _nan_inf(expr, obj)
            if fact is None and dtypes:
                fact = _dtypes(expr, obj)
            if fact:
                facts.append(cut_end(fact, MAX_FACT_CHARS))
            if len(facts) >= MAX_FACTS:
                break
    except Exception:
        pass
    clean = [f for f in facts if f.endswith(_CLEAN)]
    if len(clean) < len(facts):  # where the NaN are is the fact; which inputs are clean is noise then
        facts = [f for f in facts if not f.endswith(_CLEAN)]
    return facts


_CLEAN = "holds no NaN or infinity."


def _brief(value):
    return summaries.one_line(value, 120)


def _shape_text(obj):
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple):
        return "×".join(str(n) for n in shape) if shape else "scalar"
    return None


def _empty(expr, obj):
    try:
        if hasattr(obj, "shape") and hasattr(obj, "iloc") and len(obj) == 0:
            kind = "DataFrame" if hasattr(obj, "columns") else type(obj).__name__
            cols = " × %d columns" % len(obj.columns) if hasattr(obj, "columns") else ""
            return "%s is empty: a %s with 0 rows%s." % (expr, kind, cols)
        shape = getattr(obj, "shape", None)
        if isinstance(shape, tuple) and shape and 0 in shape:
            return "%s is empty: an array of shape %s." % (expr, _shape_text(obj))
        if isinstance(obj, (list, tuple, dict, set, str)) and len(obj) == 0 and not isinstance(obj, str):
            return "%s is empty: %s." % (expr, type(obj).__name__ + "()" if not isinstance(obj, list) else "[]")
    except Exception:
        return None
    return None


def _nan_inf(expr, obj):
    """Which columns hold NaN and which infinities, with counts."""
    np = sys.modules.get("numpy")
    if hasattr(obj, "columns") and hasattr(obj, "isna"):
        nans = obj.isna().sum()
        nan_cols = [(str(c), int(n)) for c, n in nans.items() if n]
        inf_cols = []
        if np is not None:
            for col in obj.columns:
                series = obj[col]
                if getattr(series.dtype, "kind", "") in "fc":
                    n = int(np.isinf(series.to_numpy()).sum())
                    if n:
                        inf_cols.append((str(col), n))
        return _where_text(expr, "%s %s" % (type(obj).__name__, _shape_text(obj)), len(obj), nan_cols, inf_cols,
                           "rows")
    if hasattr(obj, "isna") and hasattr(obj, "iloc"):  # a Series
        n_nan = int(obj.isna().sum())
        n_inf = int(np.isinf(obj.to_numpy()).sum()) if np is not None and getattr(obj.dtype, "kind", "") in "fc" else 0
        return _counts_text(expr, "Series of %d" % len(obj), n_nan, n_inf)
    if np is not None and isinstance(obj, np.ndarray) and obj.dtype.kind in "fc":
        if obj.ndim == 2:
            nan_cols = [("column %d" % i, int(n)) for i, n in enumerate(np.isnan(obj).sum(axis=0)) if n]
            inf_cols = [("column %d" % i, int(n)) for i, n in enumerate(np.isinf(obj).sum(axis=0)) if n]
            return _where_text(expr, "array %s" % _shape_text(obj), obj.shape[0], nan_cols, inf_cols, "rows")
        return _counts_text(expr, "array %s" % _shape_text(obj), int(np.isnan(obj).sum()), int(np.isinf(obj).sum()))
    return None


def _where_text(expr, what, rows, nan_cols, inf_cols, unit):
    if not nan_cols and not inf_cols:
        return "%s (%s) %s" % (expr, what, _CLEAN)
    parts = []
    for label, cols in (("NaN", nan_cols), ("inf", inf_cols)):
        if cols:
            shown = ", ".join("%s (%d of %d %s)" % (c, n, rows, unit) for c, n in cols[:4])
            more = " and %d more columns" % (len(cols) - 4) if len(cols) > 4 else ""
            parts.append("%s in %s%s" % (label, shown, more))
    return "%s (%s): %s." % (expr, what, "; ".join(parts))


def _counts_text(expr, what, n_nan, n_inf):
    if not n_nan and not n_inf:
        return "%s (%s) %s" % (expr, what, _CLEAN)
    parts = (["%d NaN" % n_nan] if n_nan else []) + (["%d inf" % n_inf] if n_inf else [])
    return "%s (%s) holds %s." % (expr, what, " and ".join(parts))


def _dtypes(expr, obj):
    """The dtypes of a table's columns (the non-numeric ones when there are many), with an
    example value of each non-numeric column."""
    if hasattr(obj, "dtypes") and hasattr(obj, "columns"):
        items = list(obj.dtypes.items())
        odd = [(c, d) for c, d in items if getattr(d, "kind", "O") not in "biufcmM"]
        shown = items if len(items) <= 8 else odd
        if not shown:
            return None
        parts = []
        for col, dtype in shown[:8]:
            text = "%s %s" % (col, dtype)
            if (col, dtype) in odd:
                example = _example(obj[col])
                if example is not None:
                    text += " (e.g. %s)" % example
            parts.append(text)
        head = "%s dtypes" % expr if len(items) <= 8 else "%s: %d of %d columns are not numeric" % (
            expr, len(odd), len(items))
        return "%s: %s." % (head, ", ".join(parts))
    if hasattr(obj, "dtype") and hasattr(obj, "iloc"):
        example = _example(obj) if getattr(obj.dtype, "kind", "O") not in "biufc" else None
        return "%s is a Series of dtype %s%s." % (expr, obj.dtype, " (e.g. %s)" % example if example else "")
    if isinstance(obj, (list, tuple)) and obj:
        kinds = sorted({type(v).__name__ for v in obj[:1000]})
        if len(kinds) > 1 or kinds[0] == "str":
            return "%s holds %s." % (expr, ", ".join(kinds))
    return None


def _example(series):
    try:
        for value in series.head(50):
            if value is not None and value == value:
                return cut_end(repr(value), MAX_EXAMPLE_CHARS)
    except Exception:
        return None
    return None
