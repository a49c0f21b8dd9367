"""`pip install .` (not editable) must give a working `gridloop` from any directory: the wheel
carries the engine, the web app, the migrations and the shipped workflows under the project's
own name, and nothing else at the top level."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_installs_and_sets_up_the_demo_elsewhere(tmp_path):
    # The build backend from this venv (no download): the same setuptools and wheel CI pins.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "--wheel-dir", str(tmp_path / "dist"), str(ROOT)])
    (wheel,) = (tmp_path / "dist").glob("gridloop-*.whl")

    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"gridloop", wheel.name.split("-py")[0] + ".dist-info"}
    for shipped in ("gridloop/workflows/closed_loop.bpmn", "gridloop/workflows/forms/report.json",
                    "gridloop/workflows/calendars/cn.json", "gridloop/engine/migrations/env.py",
                    "gridloop/engine/migrations/script.py.mako", "gridloop/web/templates/base.html"):
        assert shipped in names, shipped
    assert any(name.startswith("gridloop/engine/migrations/versions/") for name in names)

    # A fresh venv with only the wheel; its dependencies are this venv's, on PYTHONPATH (no .pth
    # runs from there, so the editable checkout stays invisible).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
          "--no-deps", "--no-index", str(wheel)])
    elsewhere = tmp_path / "site"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDLOOP_")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    gridloop = str(venv / "bin" / "gridloop")

    where = _run([str(venv / "bin" / "python"), "-c", "import gridloop.engine.runtime as r; print(r.WORKFLOWS_DIR)"],
                 cwd=elsewhere, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    _run([gridloop, "setup-demo"], cwd=elsewhere, env=env)
    assert (elsewhere / "instance" / "gridloop.sqlite").exists()
    # The demo's processes were deployed from the installed package: deploying again changes nothing.
    again = _run([gridloop, "deploy"], cwd=elsewhere, env=env).stdout
    assert "closed_loop v1 unchanged" in again and "deployed" not in again
