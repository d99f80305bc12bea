"""A release as a user gets it: `python -m build`, `twine check` on the sdist and the wheel, then
the wheel installed in a fresh virtualenv runs `flowmcp demo`. Needs PyPI, as `.ci/run` does."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flowmcp import __version__

pytestmark = pytest.mark.installs
ROOT = Path(__file__).resolve().parent.parent


def test_the_built_wheel_and_sdist_pass_twine_and_the_wheel_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], capture_output=True,
                           text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel = dist / f"flowmcp-{__version__}-py3-none-any.whl"
    sdist = dist / f"flowmcp-{__version__}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in dist.iterdir())

    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0 and checked.stdout.count("PASSED") == 2, checked.stdout + checked.stderr

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = email.message_from_bytes(z.read(f"flowmcp-{__version__}.dist-info/METADATA"))
    assert f"flowmcp-{__version__}.dist-info/licenses/LICENSE" in names
    assert "flowmcp/bridge/hook/sitecustomize.py" in names and "flowmcp/examples/products/product_flow.py" in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert any(url.startswith("Repository, https://") for url in metadata.get_all("Project-URL"))
    assert "metaflow" not in " ".join(r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile",
           "--disable-pip-version-check"]
    installed = subprocess.run([*pip, f"{wheel}[metaflow]"], capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    demo = subprocess.run([str(venv / "bin" / "flowmcp"), "demo", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-2000:]
    assert "Every step behaved" in demo.stdout
