"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_engine_example_runs(capsys):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using the engine from Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    net = namespace["net"]
    assert net.state.step == 2  # step() and apply(); run() was undone by restore()
    assert namespace["check"].max_rel_diff < 1e-6
    assert "forward passes vs 2" in out
