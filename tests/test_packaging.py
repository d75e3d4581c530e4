"""A non-editable install must carry the page: static/ files go into the wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_app_engine_static_and_the_console_script(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        cwd=tmp_path,
        timeout=240,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("backprop_lab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    static = {p.relative_to(ROOT).as_posix() for p in (ROOT / "static").rglob("*") if p.is_file()}
    assert static <= names, f"missing from the wheel: {sorted(static - names)}"
    assert {"app/main.py", "app/cli.py", "app/routes/__init__.py", "engine/__init__.py"} <= names
    assert not any(name.startswith("tests/") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "backprop-lab = app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
