"""The README, the Dockerfile and CI state the settings and commands the code has."""

import re
from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULTS = {name: field.default for name, field in Settings.model_fields.items()}


def env_name(field: str) -> str:
    return "BACKPROP_" + field.upper()


def test_readme_settings_table_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `(BACKPROP_\w+)` \| `([^`]*)` \|", README, re.MULTILINE))
    assert rows == {env_name(name): str(default) for name, default in DEFAULTS.items()}


def test_dockerfile_sets_every_setting_to_its_default():
    """Every setting but those unset by default (BACKPROP_REDIS_URL)."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    env = dict(re.findall(r"\b(BACKPROP_\w+)=(\S+)", dockerfile))
    assert set(env) == {env_name(name) for name, value in DEFAULTS.items() if value is not None}
    parsed = Settings(**{name.removeprefix("BACKPROP_").lower(): v for name, v in env.items()})
    assert parsed.model_dump() == DEFAULTS


def test_ci_runs_the_readme_test_command():
    run_app, run_tests = re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)[:2]
    assert "backprop-lab" in run_app
    assert "pytest" in run_tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert run_tests in ci.splitlines()
