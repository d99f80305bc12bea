"""ENVIRONMENT: what `flowmcp doctor` asks the project's interpreter.

Its Python; the distribution that installed the `metaflow` package, its release and extensions;
the user name Metaflow will record; and the datastore and metadata provider of the active
profile, each tried for real with a short deadline (a bucket that does not exist, a service that
does not answer). Nothing here raises for a bad setting: every problem is a fact in the record,
and the server words the ✗ and its fix.
"""

import importlib.util
import os
import socket
import sys
import tempfile
import threading
import time

from ... import redaction
from .. import metaflow_compat as compat
from .. import protocol

PROBE_TIMEOUT_S = 8.0  # per remote check: a datastore or a metadata service that does not answer by then is down


def op_environment(req):
    record = {"python": sys.executable, "python_version": "%d.%d.%d" % sys.version_info[:3],
              "distributions": _distributions()}
    if importlib.util.find_spec("metaflow") is None:
        return record  # no Metaflow: the server says so with the command that installs it
    try:
        import metaflow
    except Exception as ex:  # a profile that does not exist, a broken extension: Metaflow says why
        record["import_error"] = "%s: %s" % (type(ex).__name__, str(ex).strip()[:500])
        return record
    version = getattr(metaflow, "__version__", None)
    record["metaflow"] = {"version": version, "where": os.path.dirname(getattr(metaflow, "__file__", "") or ""),
                          "supported": version is not None and protocol.metaflow_supported(version)}
    if not record["metaflow"]["supported"]:
        return record  # what follows reads internals an unsupported release may not have
    record["extensions"] = _extensions()
    record["missing"] = {feature: compat.missing(feature) for feature in compat.FEATURES}
    from metaflow import metaflow_config as mc

    record["profile"] = _profile()
    record["user"] = _user(mc)
    record["datastore"] = _datastore(mc, req.get("probe", True))
    record["metadata"] = _metadata(mc, req.get("probe", True))
    return record


def _distributions():
    """The installed distributions that provide the `metaflow` package (metaflow, ob-metaflow, ...)."""
    try:
        from importlib.metadata import packages_distributions  # 3.10+
    except ImportError:  # 3.9: read each distribution's file list
        from importlib.metadata import distributions

        found = set()
        for dist in distributions():
            top = (dist.read_text("top_level.txt") or "").split()
            if "metaflow" in top or any(str(f).split("/")[0] == "metaflow" for f in (dist.files or ())):
                found.add(dist.metadata["Name"])
        return sorted(found)
    names = packages_distributions().get("metaflow", [])
    from importlib.metadata import version

    out = []
    for name in sorted(set(names)):
        try:
            out.append("%s %s" % (name, version(name)))
        except Exception:
            out.append(name)
    return out


def _extensions():
    """Metaflow extension packages loaded ({name: version}), as Metaflow records them in a run."""
    try:
        from metaflow.extension_support import extension_info

        installed = extension_info().get("installed", {})
    except Exception:
        return {}
    return {name: str(info.get("dist_version") or info.get("package_version") or "")
            for name, info in installed.items()}


def _profile():
    home = os.environ.get("METAFLOW_HOME", "~/.metaflowconfig")
    name = os.environ.get("METAFLOW_PROFILE")
    path = os.path.expanduser(os.path.join(home, "config_%s.json" % name if name else "config.json"))
    return {"name": name, "file": path, "exists": os.path.exists(path)}


def _user(mc):
    """The name Metaflow records (`metaflow.util.get_username`), and where it came from."""
    for source, value in (("METAFLOW_USER", getattr(mc, "USER", None)), ("SUDO_USER", os.environ.get("SUDO_USER")),
                          ("USERNAME", os.environ.get("USERNAME")), ("USER", os.environ.get("USER"))):
        if value and value != "root":
            return {"name": value, "source": source}
    return {"name": None, "source": None}


def _datastore(mc, probe):
    kind = getattr(mc, "DEFAULT_DATASTORE", "local")
    root = getattr(mc, "DATASTORE_SYSROOT_%s" % str(kind).upper(), None)
    record = {"type": kind, "root": root}
    if kind == "local":
        # Where Metaflow itself will write: $METAFLOW_DATASTORE_SYSROOT_LOCAL/.metaflow, else the
        # first .metaflow folder up from the root (a parent project's!), else a new one in the root.
        folder = compat.local_datastore_root() or os.path.join(os.getcwd(), compat.LOCAL_DIR)
        record["root"] = folder
        record.update(_writable(folder))
        return record
    if not probe:
        return record
    if kind == "s3":
        record.update(_within(PROBE_TIMEOUT_S, _probe_s3, mc, root))
    else:
        record["unchecked"] = "flowmcp does not try %s datastores yet" % kind
    return record


def _writable(folder):
    """Whether Metaflow can create files in `folder` (or create it): tried with a temporary file."""
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return {"ok": False, "error": "%s is a file, not a folder" % existing}
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as ex:
        return {"ok": False, "error": "cannot write in %s (%s)" % (existing, ex.strerror or ex)}
    return {"ok": True}


def _probe_s3(mc, root):
    if not root:
        return {"ok": False, "error": "METAFLOW_DATASTORE_SYSROOT_S3 is not set"}
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return {"ok": False, "error": "boto3 is not installed in this interpreter"}
    bucket, _, prefix = root[len("s3://"):].partition("/") if root.startswith("s3://") else (root, "", "")
    verify = getattr(mc, "S3_VERIFY_CERTIFICATE", None)
    client = boto3.client("s3", endpoint_url=getattr(mc, "S3_ENDPOINT_URL", None) or None,
                          verify=verify if verify is not None else None,
                          config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}))
    client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return {"ok": True}


def _metadata(mc, probe):
    kind = getattr(mc, "DEFAULT_METADATA", "local")
    record = {"type": kind}
    if kind != "service":
        record["ok"] = True
        return record
    url = getattr(mc, "SERVICE_URL", None)
    record["url"] = redaction.without_passwords(url) if url else url  # the report shows where, never with what
    if not url:
        record.update(ok=False, error="METAFLOW_SERVICE_URL is not set")
    elif probe:
        record.update(_within(PROBE_TIMEOUT_S, _ping, url, dict(getattr(mc, "SERVICE_HEADERS", None) or {})))
    return record


def _ping(url, headers):
    """The service's /ping, with its headers; a URL's user and password go as basic auth, as
    Metaflow's `requests` sends them (urllib would take the password for a port)."""
    import base64
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        credentials = "%s:%s" % (urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""))
        headers = dict(headers, Authorization="Basic " + base64.b64encode(credentials.encode()).decode("ascii"))
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    request = urllib.request.Request(url.rstrip("/") + "/ping", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:  # raises for 4xx/5xx
        response.read(1024)
    return {"ok": True}


def _within(seconds, probe, *args):
    """probe(*args) in a thread: its record, {"ok": False, "error": ...} if it raised, or a timeout."""
    result = {}

    def target():
        started = time.monotonic()
        try:
            result.update(probe(*args))
        except Exception as ex:
            result.update(ok=False, error=_said(ex))
        result["seconds"] = round(time.monotonic() - started, 2)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return {"ok": False, "error": "no answer within %g s" % seconds}
    return result


def _said(ex):
    if isinstance(ex, socket.timeout):
        return "timed out"
    text = str(ex).strip().splitlines()[0] if str(ex).strip() else ""
    return ("%s: %s" % (type(ex).__name__, text))[:300]
