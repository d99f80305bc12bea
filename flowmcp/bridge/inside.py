"""What the failing line was looking inside, read in the step process where it failed.

`suggestions(...)`: for a key, index or attribute that is not there, the keys, columns or fields
of the container at the level where the lookup failed (`cfg["train"]` in
`cfg["train"]["warmup_step"]`, never `cfg`); for a keyword a function does not take, the keywords
its signature does take. bridge/mismatch.py uses the same reading for data that do not match.

The failing expression is found from the line's column span (3.11+ code positions), else from
the whole line, and re-read with a strict rule: names, attributes an object holds in its own
dictionary (a flow's artifacts and Configs as the step reads them, a Metaflow Config's keys), and
constant subscripts of builtin containers, pandas and numpy objects. Never a call, a property or
a user class's `__getitem__`: describing a failure must not run the user's code again. A method
that keeps a frame's columns (`df.groupby(...)`, `df.dropna()`) or a row mask (`df[df.x > 0]`) is
not called either: the columns are read from the frame it was called on. Standard library only.
"""

from __future__ import annotations

import ast
import inspect
import re
import types

from ..summarize import suggest
from . import metaflow_compat as compat

MAX_LISTED = 12  # labels listed in full up to this many
MAX_SAMPLE = 5
MAX_LABELS = 5000  # labels read from one container
MAX_OWNER_CHARS = 60
# Methods whose result has the columns of the frame they are called on: no need to call them
KEEPS_COLUMNS = frozenset(("groupby", "rolling", "expanding", "resample", "ewm", "copy", "head", "tail", "dropna",
                           "fillna", "sort_values", "sort_index", "query", "sample", "drop_duplicates", "nlargest",
                           "nsmallest", "astype", "round", "abs", "reset_index", "set_axis"))
_ACCESSORS = ("loc", "iloc", "at", "iat")
_UNEXPECTED = re.compile(r"(?P<callee>[\w.<>]+)\(\) got an unexpected keyword argument '(?P<kw>\w+)'")
_INVALID = re.compile(r"'(?P<kw>\w+)' is an invalid keyword argument for (?P<callee>[\w.<>]+)\(\)")
_SKLEARN_PARAM = re.compile(r"Invalid parameter '(?P<kw>\w+)' for estimator (?P<callee>\w+)")
_OUT_OF_RANGE = re.compile(r"index out of range|out of bounds|out-of-bounds")


class Unsafe(Exception):
    """The expression would need more than reading: a call, a property, an unknown container."""


# ---------------------------------------------------------------------------- the failing expression


def failing_tree(rec):
    """The failing expression's tree: the column span's text when there is one, else the whole
    line; None when neither parses."""
    code = rec.get("code") or ""
    col, end = rec.get("col"), rec.get("end_col")
    texts = []
    if col is not None and end:
        raw = code.encode("utf-8")  # code positions count bytes
        texts.append(raw[col:end].decode("utf-8", "replace"))
    texts += [code, code + "\n pass", code + ")", code + "))", code + "]"]
    for text in texts:
        try:
            return ast.parse(text.strip(), mode="eval" if text is texts[0] and col is not None else "exec"), text
        except (SyntaxError, ValueError):
            continue
    return None, ""


def nodes(tree):
    """The tree's nodes, outermost first."""
    if tree is None:
        return []
    todo, out = [tree.body if isinstance(tree, ast.Expression) else tree], []
    while todo:
        node = todo.pop(0)
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def source_of(node, text):
    found = ast.get_source_segment(text.strip(), node) or ast.unparse(node)
    return found if len(found) <= MAX_OWNER_CHARS else found[: MAX_OWNER_CHARS - 1] + "…"


def constant(node, frame):
    """A subscript's key: a literal, a negative number, a tuple of those, or a local name."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        return tuple(constant(e, frame) for e in node.elts)
    if isinstance(node, ast.Name) and node.id in frame.f_locals:
        value = frame.f_locals[node.id]
        if isinstance(value, (str, int, float, bool, tuple)) or value is None:
            return value
    raise Unsafe


def evaluate(node, frame):
    """The value of a name / attribute / constant-subscript chain, read without running code."""
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals):
            if node.id in scope:
                return scope[node.id]
        raise Unsafe
    if isinstance(node, ast.Attribute):
        return attribute(evaluate(node.value, frame), node.attr)
    if isinstance(node, ast.Subscript):
        return item(evaluate(node.value, frame), constant(node.slice, frame))
    raise Unsafe


def attribute(obj, name):
    """`obj.name` as held: a module's global, an instance's own value, a flow's artifact or
    Config (loaded as the step loads it), a Metaflow Config's key. Never a property."""
    if isinstance(obj, types.ModuleType):
        if name in vars(obj):
            return vars(obj)[name]
        raise Unsafe
    try:
        held = vars(obj)
    except TypeError:
        held = {}
    if name in held:
        return held[name]
    if isinstance(obj, dict) and _is_metaflow(obj) and dict.__contains__(obj, name):
        return dict.__getitem__(obj, name)
    if compat.is_flow(obj):
        if name in compat.input_artifact_names(obj):
            return getattr(obj, name)  # the artifact, loaded from the datastore as the step would
        value = inspect.getattr_static(type(obj), name, None)  # a Config or a constant of the class
        if value is not None and not callable(value) and not hasattr(type(value), "__get__"):
            return value
    raise Unsafe


def item(obj, key):
    """`obj[key]` for containers whose lookup runs no user code."""
    if isinstance(obj, dict):
        return dict.__getitem__(obj, key)  # a defaultdict's __missing__ would insert the key
    if isinstance(obj, (list, tuple)):
        return obj[key] if isinstance(key, int) else _raise()
    kind = _kind(obj)
    if kind in ("DataFrame", "Series", "ndarray", "recarray"):
        return obj[key]
    raise Unsafe


def _raise():
    raise Unsafe


def _kind(obj):
    """The name of a pandas / numpy type we know how to read, else None."""
    for cls in type(obj).__mro__:
        module = cls.__module__ or ""
        pandas = module == "pandas" or module.startswith("pandas.")
        if pandas and cls.__name__ in ("DataFrame", "Series", "DataFrameGroupBy", "SeriesGroupBy"):
            return cls.__name__
        if module == "numpy" and cls.__name__ in ("recarray", "ndarray"):
            return cls.__name__
    return None


def _is_metaflow(obj):
    return type(obj).__module__.startswith("metaflow")


def labels(obj):
    """(labels, what they are called) of a container, by its type alone; (None, None) if unknown."""
    kind = _kind(obj)
    if isinstance(obj, dict):
        return list(obj.keys())[:MAX_LABELS], "keys"
    if kind == "DataFrame":
        return list(obj.columns), "columns"
    if kind == "Series":
        return list(obj.index[:MAX_LABELS]), "index labels"
    if kind == "DataFrameGroupBy":
        frame = vars(obj).get("obj")
        return (list(frame.columns), "columns") if _kind(frame) == "DataFrame" else (None, None)
    if kind in ("ndarray", "recarray") and obj.dtype.names:
        return list(obj.dtype.names), "fields"
    return None, None


# ---------------------------------------------------------------------------- missing keys


def suggestions(ex, frame, rec, innermost):
    """Records for hints (summarize/hints_inside.py); [] when nothing applies. `rec` is the
    failing user frame's record, `innermost` the (frame, record) the exception was raised in."""
    try:
        message = str(ex)
        if isinstance(ex, TypeError) or _SKLEARN_PARAM.search(message):
            found = keyword(ex, message, innermost, (frame, rec))
        elif frame is None:
            found = None
        elif isinstance(ex, IndexError) and _OUT_OF_RANGE.search(message):
            found = index(frame, rec)
        elif isinstance(ex, AttributeError):
            found = attribute_key(ex, frame, rec)
        elif isinstance(ex, KeyError) or "not in index" in message or "not found in axis" in message:
            found = missing_key(ex, frame, rec)
        else:
            found = None
    except Exception:
        return []
    return [found] if found else []


def wrong_keys(ex):
    """The keys a KeyError (or pandas' "not in index") is about, as text."""
    message = str(ex)
    grouped = re.search(r"Columns? not found: (.+?)'?$", message)
    if grouped:  # a grouped frame's selection: "Column not found: x", "Columns not found: 'x', 'y'"
        return [k.strip(" '\"") for k in grouped.group(1).split(",")][:5]
    if isinstance(ex, KeyError) and len(ex.args) == 1 and isinstance(ex.args[0], (str, int, float)) \
            and not re.search(r"not in index|not found in axis|None of \[", message):
        return [str(ex.args[0])]
    quoted = re.findall(r"'((?:[^'\\]|\\.)*)'", message)
    return [q for q in quoted if q not in ("object", "str", "int64", "float64", "string", "columns", "index")][:5]


def _mentions(node, wrong, frame):
    """The node is a literal (or a list of literals) naming one of the wrong keys."""
    try:
        value = constant(node, frame)
    except Unsafe:
        value = None
        if isinstance(node, (ast.List, ast.Set)):
            return any(_mentions(e, wrong, frame) for e in node.elts)
    values = value if isinstance(value, tuple) else (value,)
    return any(v is not None and str(v) in wrong for v in values)


def containers(tree, wrong, frame):
    """(node, how) for what the failing expression looked a wrong key up in, the likeliest first:
    a subscript with that key, a call given it (its receiver, then its data arguments), else the
    outermost subscript."""
    found = []
    for node in nodes(tree):
        if isinstance(node, ast.Subscript) and _mentions(node.slice, wrong, frame):
            found.append(node.value)
        elif isinstance(node, ast.Call) and any(_mentions(a, wrong, frame) for a in
                                                list(node.args) + [k.value for k in node.keywords]):
            if isinstance(node.func, ast.Attribute):
                found.append(node.func.value)
            found.extend(a for a in node.args if isinstance(a, (ast.Name, ast.Attribute, ast.Subscript)))
            found.extend(k.value for k in node.keywords if isinstance(k.value, (ast.Name, ast.Attribute)))
    top = nodes(tree)[:1]
    if not found and top and isinstance(top[0], ast.Subscript):
        found.append(top[0].value)
    return found


def container_value(node, frame):
    """The container a node stands for, with a frame's accessor (`.loc`), a column-keeping method
    (`.groupby(...)`) or a row mask (`df[df.x > 0]`) read through, not run."""
    if isinstance(node, ast.Attribute) and node.attr in _ACCESSORS:
        node = node.value
    try:
        return evaluate(node, frame)
    except Unsafe:
        pass
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in KEEPS_COLUMNS:
        base = container_value(node.func.value, frame)
    elif isinstance(node, ast.Subscript) and _is_mask(node.slice):
        base = container_value(node.value, frame)  # rows picked by a mask: the same columns
    else:
        raise Unsafe
    if _kind(base) != "DataFrame":
        raise Unsafe
    return base


def _is_mask(node):
    """A row filter (`df.x > 0`, `(a) & (b)`, `~df.x.isna()`, `df.x.isin(...)`), not a column pick."""
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        return True
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor))
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.Invert)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
        "isin", "notna", "isna", "notnull", "isnull", "between", "contains", "startswith", "endswith")


def unaccessed(node):
    """`df.loc` read as `df`: the accessor's labels are the frame's."""
    return node.value if isinstance(node, ast.Attribute) and node.attr in _ACCESSORS else node


def near(wrong, names, n=3):
    """The closest names by Python's rule; else the names `wrong` reorders or abbreviates
    (`min_leaf_samples`, `lr` for `learning_rate`, `n_est` for `n_estimators`)."""
    found = suggest.closest(wrong, names, n)
    if found or not isinstance(wrong, str) or len(wrong) < 2:
        return found
    low = wrong.lower()
    initials = [x for x in names if isinstance(x, str) and "_" in x and
                "".join(p[:1] for p in x.lower().split("_") if p) == low]
    prefixed = [x for x in names if isinstance(x, str) and len(low) >= 3 and x.lower().startswith(low)]
    words = sorted(low.split("_"))  # the same words in another order: `min_leaf_samples`
    reordered = [x for x in names if isinstance(x, str) and "_" in low and sorted(x.lower().split("_")) == words]
    found = []
    for x in reordered + initials + prefixed:
        if x not in found:
            found.append(x)
    return found[:n]


def missing_key(ex, frame, rec):
    wrong = wrong_keys(ex)
    tree, text = failing_tree(rec)
    if not wrong or tree is None:
        return None
    for node in containers(tree, wrong, frame):
        try:
            obj = container_value(node, frame)
        except Exception:
            continue
        found = key_record(source_of(unaccessed(node), text), obj, wrong)
        if found:
            return found
    return None


def key_record(owner, obj, wrong, present_too=False):
    keys, what = labels(obj)
    if keys is None:
        return None
    texts = [str(k) for k in keys]
    if all(w in texts for w in wrong) and not present_too:
        return None  # it has them: not where the lookup failed
    close = []
    for w in wrong[:3]:
        close.extend(c for c in near(w, texts) if c not in close)
    return {"kind": "key", "owner": owner, "owner_type": type(obj).__name__, "what": what, "wrong": wrong,
            "close": close[:3], "names": texts if len(texts) <= MAX_LISTED else _sample(wrong[0], texts),
            "count": len(keys)}


def attribute_key(ex, frame, rec):
    """An attribute that is not there, on an object that holds keys, columns or fields: the
    closest of those (a Config's `cfg.train.warmup_step`, a recarray's field, a frame's column)."""
    message = str(ex)
    name = getattr(ex, "name", None) or (re.findall(r"has no attribute '([^']+)'", message) or [None])[0]
    if name is None and message.isidentifier():
        name = message  # a Metaflow Config raises AttributeError(key)
    if not name:
        return None
    tree, text = failing_tree(rec)
    node = next((n for n in nodes(tree) if isinstance(n, ast.Attribute) and n.attr == name), None)
    obj = getattr(ex, "obj", None)
    if node is not None and obj is None:
        try:
            obj = container_value(node.value, frame)
        except Exception:
            return None
    keys, _ = labels(obj) if obj is not None else (None, None)
    if keys is None:
        return None
    owner = source_of(node.value, text) if node is not None else type(obj).__name__
    found = key_record(owner, obj, [name], present_too=isinstance(obj, dict))
    if found is None:
        return None
    mapping = isinstance(obj, dict)
    if not (mapping or found["close"]):
        return None  # a method's name mistyped, most likely: the attribute hint says that better
    found["kind"] = "member"
    found["item_access"] = mapping and not _is_metaflow(obj)  # a dict's keys are read with [...]
    return found


def index(frame, rec):
    """An index past the end: how long the sequence it indexed is."""
    tree, text = failing_tree(rec)
    for node in nodes(tree):
        if not isinstance(node, ast.Subscript):
            continue
        try:
            obj = container_value(node.value, frame)
        except Exception:
            continue
        kind = _kind(obj)
        if isinstance(obj, (list, tuple, str)) or kind in ("DataFrame", "Series", "ndarray"):
            try:
                asked = constant(node.slice, frame)
            except Unsafe:
                asked = None
            if isinstance(asked, int) and -len(obj) <= asked < len(obj):
                continue  # this lookup is fine: another one on the line failed
            return {"kind": "index", "owner": source_of(unaccessed(node.value), text), "owner_type": type(obj).__name__,
                    "length": len(obj), "asked": asked if isinstance(asked, int) else None,
                    "rows": kind in ("DataFrame", "Series")}
    return None


# ---------------------------------------------------------------------------- keywords


def keyword(ex, message, innermost, user):
    """A keyword the callee does not take: the keywords its signature does take."""
    match = _UNEXPECTED.search(message) or _INVALID.search(message)
    if match:
        wrong, named = match.group("kw"), match.group("callee")
        callee, shown = _callee(wrong, named, innermost, user)
        names = keywords_of(callee) if callee is not None else None
    else:
        match = _SKLEARN_PARAM.search(message)
        listed = re.search(r"Valid parameters are: (\[.*\])", message)
        if not match or not listed:
            return None
        wrong, shown = match.group("kw"), match.group("callee")
        names = [str(n) for n in ast.literal_eval(listed.group(1))]
    if not names:
        return None
    return {"kind": "keyword", "callee": shown, "wrong": wrong, "close": near(wrong, names),
            "names": names[:MAX_LISTED * 3], "count": len(names)}


def _callee(wrong, named, innermost, user_frame):
    """(the function or class called, how the user's line calls it). The call on the raising line
    that passes `wrong`, or passes **kwargs on to a function of the message's name (a decorator's
    wrapper); else that name looked up where the exception was raised."""
    frame, rec = innermost if innermost else (None, {})
    named = named[: -len(".__init__")] if named.endswith(".__init__") else named
    shown = named.rpartition("<locals>.")[2]
    if user_frame is not None and user_frame[0] is not None:
        tree, text = failing_tree(user_frame[1])
        call = next((n for n in nodes(tree) if isinstance(n, ast.Call) and any(k.arg == wrong for k in n.keywords)),
                    None)
        shown = source_of(call.func, text) if call is not None else shown
    if frame is not None:
        tree, _ = failing_tree(rec)
        calls = [n for n in nodes(tree) if isinstance(n, ast.Call)]
        for node in sorted(calls, key=lambda n: not any(k.arg == wrong for k in n.keywords)):
            try:
                found = callable_of(node.func, frame)
            except Exception:
                continue
            if any(k.arg == wrong for k in node.keywords) or _qualname(found) == named:
                return found, shown
        own = frame.f_locals.get("self")  # super().__init__(**kwargs): a base class of self's
        for cls in type(own).__mro__ if own is not None else ():
            if _qualname(vars(cls).get("__init__")) == named + ".__init__":
                return cls, shown
    parts = named.split(".")
    for where in (frame, user_frame[0] if user_frame else None):
        if where is None:
            continue
        scopes = (where.f_locals, where.f_globals, where.f_builtins if isinstance(where.f_builtins, dict) else {})
        obj = next((s[parts[0]] for s in scopes if parts[0] in s), None)
        try:
            for part in parts[1:]:
                obj = inspect.getattr_static(obj, part)
        except AttributeError:
            continue
        if obj is not None:
            return obj, shown
    return None, shown


def _qualname(obj):
    obj = getattr(obj, "__func__", obj)
    return getattr(obj, "__qualname__", None)


def callable_of(node, frame):
    """The function or class a call's `func` names, read as `evaluate` reads values; a method
    is read from the class (never through a property) and bound to its object."""
    if isinstance(node, ast.Attribute):
        owner = evaluate(node.value, frame)
        if isinstance(owner, types.ModuleType):
            return attribute(owner, node.attr)
        found = inspect.getattr_static(owner, node.attr)
        if isinstance(found, staticmethod):
            return found.__func__
        if isinstance(found, classmethod):
            return types.MethodType(found.__func__, owner if isinstance(owner, type) else type(owner))
        if isinstance(found, types.FunctionType) and not isinstance(owner, type):
            return types.MethodType(found, owner)
        return found
    return evaluate(node, frame)


def keywords_of(callee):
    """Names a call may pass as keywords. A class whose __init__ passes **kwargs on to its base
    (`super().__init__(**kwargs)`, as XGBoost's estimators do) takes its bases' keywords too."""
    targets = [callee]
    if isinstance(callee, type):
        targets = [vars(c)["__init__"] for c in callee.__mro__ if "__init__" in vars(c) and c is not object]
    names = []
    for target in targets or [callee]:
        try:
            params = list(inspect.signature(target).parameters.values())
        except (TypeError, ValueError):
            break
        if isinstance(callee, type) and params and params[0].name in ("self", "cls"):
            params = params[1:]
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name not in names]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def _sample(wrong, names):
    if len(names) <= MAX_LISTED:
        return list(names)
    close = suggest.closest(wrong, names, n=MAX_SAMPLE)
    return close + [n for n in names if n not in close][: MAX_SAMPLE - len(close)]
