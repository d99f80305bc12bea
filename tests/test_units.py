"""Pure functions: parameter conversion, root confinement, interpreter choice, path parsing."""

from __future__ import annotations

import sys

import pytest

from flowmcp.bridge.project import artifacts
from flowmcp.bridge.protocol import JobError
from flowmcp.errors import BadArgumentError, OutsideRootError
from flowmcp.state.config import DEFAULT_USER, Config, find_interpreter
from flowmcp.tools import _parameters as parameters

DECLARED = [
    {"name": "alpha", "type": "float", "default": 0.1, "required": False},
    {"name": "count", "type": "int", "default": 2, "required": False},
    {"name": "fail", "type": "bool", "default": False, "required": False},
    {"name": "config", "type": "json", "default": "{}", "required": False},
    {"name": "learning-rate", "type": "float", "default": 0.01, "required": False},
]


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"alpha": 0.5}, [("alpha", "0.5")]),
        ({"alpha": "0.5"}, [("alpha", "0.5")]),
        ({"alpha": 1}, [("alpha", "1.0")]),
        ({"count": "3"}, [("count", "3")]),
        ({"count": 3.0}, [("count", "3")]),
        ({"fail": True}, [("fail", "true")]),
        ({"fail": "False"}, [("fail", "false")]),
        ({"config": {"a": [1, 2]}}, [("config", '{"a": [1, 2]}')]),
        ({"config": '{"a": [1, 2]}'}, [("config", '{"a": [1, 2]}')]),
        ({"config": '"text"'}, [("config", '"text"')]),
        ({"learning_rate": 0.2}, [("learning-rate", "0.2")]),
    ],
)
def test_parameters_convert_to_the_declared_type(given, expected):
    assert parameters.to_cli(DECLARED, given) == expected


@pytest.mark.parametrize(
    "given, message",
    [
        ({"alhpa": 1}, "Did you mean 'alpha'?"),
        ({"count": 2.5}, "'count' is int"),
        ({"count": True}, "'count' is int"),
        ({"alpha": "fast"}, "'alpha' is float"),
        ({"alpha": float("nan")}, "'alpha' is float"),
        ({"fail": "maybe"}, "true or false"),
        ({"alpha": None}, "null is not a parameter value"),
        ({"config": "{depth: [2, 4]}"}, "'config' is json; got .*, which is not valid JSON"),
    ],
)
def test_bad_parameters_say_what_to_pass(given, message):
    with pytest.raises(BadArgumentError, match=message.replace("?", r"\?")):
        parameters.to_cli(DECLARED, given)


def test_required_parameter_missing_is_named():
    declared = [{"name": "size", "type": "int", "default": None, "required": True}]
    with pytest.raises(BadArgumentError, match=r"Missing required parameter.*size"):
        parameters.to_cli(declared, {})


def test_paths_resolve_inside_the_root_only(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f.py").write_text("")
    config = Config.create(root)
    assert config.resolve("sub/f.py") == root / "sub" / "f.py"
    assert config.resolve(str(root / "sub" / "f.py")) == root / "sub" / "f.py"
    for bad in ("../x.py", "/etc/passwd", "sub/../../x.py", "", "a\x00b"):
        with pytest.raises(OutsideRootError):
            config.resolve(bad)
    (root / "escape.py").symlink_to(tmp_path / "elsewhere.py")
    with pytest.raises(OutsideRootError, match=str(root)):
        config.resolve("escape.py")


def test_interpreter_prefers_flag_then_virtual_env_then_dot_venv(tmp_path, monkeypatch):
    root = tmp_path / "root"
    venv_python = root / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    other = tmp_path / "other" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.write_text("")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    assert find_interpreter(root, None) == (str(venv_python), ".venv")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "other"))
    assert find_interpreter(root, None) == (str(other), "$VIRTUAL_ENV")
    assert find_interpreter(root, sys.executable) == (sys.executable, "--python")
    monkeypatch.delenv("VIRTUAL_ENV")
    (root / ".venv" / "bin" / "python").unlink()
    assert find_interpreter(root, None) == (sys.executable, "server")


@pytest.mark.parametrize("user", [None, "root"])
def test_child_env_names_a_user_when_metaflow_would_refuse(tmp_path, monkeypatch, user):
    for key in ("USER", "USERNAME", "LOGNAME", "METAFLOW_USER"):
        monkeypatch.delenv(key, raising=False)
    if user:
        monkeypatch.setenv("USER", user)
    env = Config.create(tmp_path).child_env()
    assert env["METAFLOW_USER"] == DEFAULT_USER
    assert env["METAFLOW_CLIENT_CACHE_PATH"].startswith(str(tmp_path))


def test_child_env_keeps_a_real_user(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "ada")
    monkeypatch.delenv("METAFLOW_USER", raising=False)
    assert "METAFLOW_USER" not in Config.create(tmp_path).child_env()


@pytest.mark.parametrize(
    "path, steps",
    [
        ('["weights"][0]', [("key", "weights"), ("index", 0)]),
        (".coef_", [("attr", "coef_")]),
        ("columns", [("attr", "columns")]),
        ("['a b'][-1].shape", [("key", "a b"), ("index", -1), ("attr", "shape")]),
    ],
)
def test_artifact_paths_parse_into_steps(path, steps):
    assert artifacts.parse_path(path) == steps


@pytest.mark.parametrize("path", ["__import__('os')", "[0", "x()", "[1+1]", "; rm -rf /"])
def test_artifact_paths_that_are_code_are_refused(path):
    with pytest.raises(JobError):
        steps = artifacts.parse_path(path)
        artifacts.walk_path({"x": 1}, steps)


@pytest.mark.parametrize("path", ["a" * 5000, "x" * 300 + ".py", "d/" * 2100 + "flow.py"])
def test_a_path_too_long_for_the_file_system_says_so_and_echoes_only_its_start(tmp_path, path):
    from flowmcp.errors import OutsideRootError
    from flowmcp.state.config import Config

    config = Config.create(tmp_path)
    with pytest.raises(OutsideRootError, match="is too long") as raised:
        config.resolve(path, what="flow file")
    assert len(str(raised.value)) < 500  # the input is not echoed back whole


def test_the_metaflow_pins_in_pyproject_are_the_supported_range():
    from pathlib import Path

    from flowmcp.bridge.protocol import SUPPORTED_METAFLOW

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    first, beyond = (".".join(map(str, release)) for release in SUPPORTED_METAFLOW)
    pin = f"metaflow>={first},<{beyond}"
    assert project["optional-dependencies"]["metaflow"] == [pin]
    assert pin in project["optional-dependencies"]["test"]
    assert not any(d.startswith(("metaflow", "ob-metaflow")) for d in project["dependencies"])  # stays the user's
