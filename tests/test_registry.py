"""Backends by entry point, listed with whether they work here; --help imports nothing heavy."""
from __future__ import annotations

import subprocess
import sys

import pytest

from storymode import registry
from storymode.errors import BackendNotFound, MissingDependency, UsageError

from .conftest import run_cli

HEAVY = ("torch", "transformers", "diffusers", "llama_cpp", "cv2", "onnxruntime", "hibari")


@pytest.mark.parametrize("argv", [["--help"], ["make", "--help"], ["backends"], ["schema"]])
def test_light_commands_import_nothing_heavy(argv):
    code = ("import sys\nfrom storymode.cli import cli\ntry:\n    cli(%r, prog_name='storymode')\n"
            "except SystemExit:\n    pass\nprint('HEAVY=' + ','.join(m for m in %r if m in sys.modules))" % (argv, HEAVY))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY=", proc.stdout[-300:]


def test_builtins_come_from_entry_points():
    for stage, name in registry.DEFAULTS.items():
        assert name in registry._entry_points(stage), (stage, name)


def test_backends_command_lists_every_stage():
    proc = run_cli("backends")
    assert proc.returncode == 0
    for stage, name in registry.DEFAULTS.items():
        assert any(line.startswith(stage) and f" {name} " in line and " yes " in line
                   for line in proc.stdout.splitlines()), proc.stdout


def test_unusable_backend_names_the_fix(monkeypatch):
    from storymode.narrators.espeak import EspeakNarrator

    monkeypatch.setattr("shutil.which", lambda name: None)
    ok, why = EspeakNarrator.usable()
    assert not ok and "apt install espeak-ng" in why


def test_missing_dependency_names_extra():
    from storymode.backend import Backend

    class NeedsTorch(Backend):
        stage, name, requires, extra = "illustrator", "needs-torch", ("surely_not_installed_mod",), "hub"

    registry.register(NeedsTorch)
    try:
        with pytest.raises(MissingDependency, match=r'needs surely_not_installed_mod: pip install "storymode\[hub\]"'):
            registry.create("illustrator", "needs-torch")
        rows = [r for r in registry.describe_all() if r.name == "needs-torch"]
        assert rows and not rows[0].usable and "storymode[hub]" in rows[0].why_not
    finally:
        registry.unregister("illustrator", "needs-torch")


def test_unknown_names_and_options():
    with pytest.raises(BackendNotFound, match="hibari"):
        registry.create("narrator", "nope")
    with pytest.raises(UsageError, match="'bogus' is not an option"):
        registry.create("narrator", "hibari", {"bogus": 1})
