"""Config that comes with a folder is data (SECURITY.md): it cannot run code, route keys or reach outside its folder.

Every finding of the outside review is one test here, through the CLI as a user meets it.
"""
from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from storymode.config import resolve_settings, trusting
from storymode.errors import UsageError

from .conftest import run_cli

SECRET = "sk-live-0123456789abcdef-DO-NOT-LEAK"
SECRET_TEXT = "the vault code is 31-41-59"


def assert_refused(proc, *needles: str) -> None:
    """Exit 2, one clean message (no traceback, no 'unexpected'), naming what it must."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle.lower() in proc.stderr.lower(), proc.stderr


def own_config_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose user config folder is an empty one under tmp_path (nothing of the real user's)."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "HF_HOME": str(tmp_path / "hf")}


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection and the request head it was sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.heads: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                try:
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                except OSError:
                    pass
                self.heads.append(head)

    def settle(self, want: int = 0, timeout: float = 5.0) -> list[bytes]:
        """The request heads, once want of them arrived (or after a short grace for late ones when want is 0)."""
        deadline = time.monotonic() + (timeout if want else 0.6)
        while time.monotonic() < deadline and (not want or len(self.heads) < want):
            time.sleep(0.05)
        return list(self.heads)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


# ---------------------------------------------------------------- trust_remote_code
EVIL_MODULE = """import os, pathlib
pathlib.Path(os.environ["EVIL_MARKER"]).write_text("the folder's code ran")
from transformers import PretrainedConfig
class EvilConfig(PretrainedConfig):
    model_type = "evil"
"""


def _evil_folder(root: Path) -> Path:
    """A cloned 'project': storymode.toml asking for its own model folder with trust_remote_code, and that model."""
    model = root / "evilmodel"
    model.mkdir(parents=True)
    auto = '{"AutoConfig": "evil.EvilConfig", "AutoTokenizer": ["evil.EvilConfig", null]}'
    (model / "config.json").write_text(f'{{"model_type": "evil", "auto_map": {auto}}}')
    (model / "tokenizer_config.json").write_text(f'{{"auto_map": {auto}}}')
    (model / "evil.py").write_text(EVIL_MODULE)
    (root / "storymode.toml").write_text('writer = "transformers"\n[options.writer]\nmodel = "./evilmodel"\n'
                                         "trust_remote_code = true\n")
    return root


def test_folder_config_cannot_turn_on_trust_remote_code(tmp_path):
    root = _evil_folder(tmp_path / "cloned")
    marker = tmp_path / "MARKER"
    env = {**own_config_env(tmp_path), "EVIL_MARKER": str(marker)}
    for command in (["make", "a fox", "-o", "fox.mp4"], ["write", "a fox", "-d", "fox.storymode"]):
        proc = run_cli(*command, cwd=root, env=env)
        assert_refused(proc, "storymode.toml", "trust_remote_code", "--trust-config", "your own config")
        assert not marker.exists(), "the folder's Python code was run"
    assert not (tmp_path / "hf" / "modules").exists(), "nothing was copied into transformers' module cache"
    assert not (root / "fox.storymode").exists(), "refused before any story folder was made"


def test_config_named_by_flag_is_still_data(tmp_path):
    root = _evil_folder(tmp_path / "cloned")
    marker = tmp_path / "MARKER"
    proc = run_cli("make", "a fox", "-o", "fox.mp4", "--config", str(root / "storymode.toml"), cwd=tmp_path,
                   env={**own_config_env(tmp_path), "EVIL_MARKER": str(marker)})
    assert_refused(proc, "trust_remote_code", "--trust-config")
    assert not marker.exists()


def test_trust_config_flag_is_the_way_out(tmp_path):
    """The control: with --trust-config the same folder does run its code, so the refusal above is what stops it."""
    pytest.importorskip("transformers")
    root = _evil_folder(tmp_path / "cloned")
    marker = tmp_path / "MARKER"
    proc = run_cli("make", "a fox", "-o", "fox.mp4", "--trust-config", "--quiet", cwd=root,
                   env={**own_config_env(tmp_path), "EVIL_MARKER": str(marker)})
    assert marker.exists(), (proc.returncode, proc.stderr)


# ---------------------------------------------------------------- base_url + api_key_env
def _key_route_config(folder: Path, url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "storymode.toml"
    path.write_text(f'writer = "openai"\n[options.writer]\nbase_url = "{url}"\napi_key_env = "SOME_SECRET"\n'
                    "max_retries = 0\ntimeout = 5\n")
    return path


def test_folder_config_cannot_send_a_key_to_its_server(tmp_path, listener):
    root = tmp_path / "cloned"
    _key_route_config(root, listener.url)
    env = {**own_config_env(tmp_path), "SOME_SECRET": SECRET}
    for command in (["make", "a fox", "-o", "fox.mp4"], ["write", "a fox", "-d", "fox.storymode"]):
        proc = run_cli(*command, cwd=root, env=env)
        assert_refused(proc, "storymode.toml", "base_url", "SOME_SECRET", "--trust-config")
        assert SECRET not in proc.stdout + proc.stderr
    assert listener.settle() == [], "no connection was made"


def test_a_non_default_base_url_alone_still_cannot_get_the_default_key(tmp_path, listener):
    (tmp_path / "storymode.toml").write_text(f'writer = "openai"\n[options.writer]\nbase_url = "{listener.url}"\n')
    proc = run_cli("write", "a fox", "-d", "fox.storymode", cwd=tmp_path,
                   env={**own_config_env(tmp_path), "OPENAI_API_KEY": SECRET})
    assert_refused(proc, "base_url", "OPENAI_API_KEY")
    assert SECRET not in proc.stdout + proc.stderr and listener.settle() == []


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CONFIG_HOME places the user config folder on Linux")
def test_the_same_settings_in_the_users_own_config_are_followed(tmp_path, listener):
    """The control: in the user's config folder (trusted) the same settings do send the key to that server."""
    env = {**own_config_env(tmp_path), "SOME_SECRET": SECRET}
    _key_route_config(Path(env["XDG_CONFIG_HOME"]) / "storymode", listener.url)
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli("write", "a fox", "-d", "fox.storymode", "--quiet", cwd=work, env=env)
    assert proc.returncode != 2, proc.stderr
    heads = listener.settle(want=1)
    assert any(f"Bearer {SECRET}".encode() in head for head in heads), heads
    assert SECRET not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- paths outside the folder
@pytest.mark.parametrize("line", ['music = "/etc/hostname"', 'music = "../song.ogg"',
                                  '[options.narrator]\nmodel = "~/voices/x.onnx"',
                                  '[options.illustrator]\nreferences = {fox = "../../fox.png"}'])
def test_folder_config_cannot_name_paths_outside_it(tmp_path, line):
    (tmp_path / "storymode.toml").write_text(line + "\n")
    proc = run_cli("make", "a fox", "-o", "fox.mp4", cwd=tmp_path, env=own_config_env(tmp_path))
    assert_refused(proc, "storymode.toml", "outside", "--trust-config")


def _gallery_with_text(tmp_path: Path, value: str) -> Path:
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(f"Once upon a time, {SECRET_TEXT}.\n")
    examples = tmp_path / "downloaded-examples"
    examples.mkdir(exist_ok=True)
    if value == "link.txt":
        (examples / "link.txt").symlink_to(secret)
    (examples / "leak.toml").write_text(f'text = "{value if value != "ABS" else secret}"\nscenes = 1\n')
    return examples


@pytest.mark.parametrize("value", ["ABS", "../private/secret.txt", "link.txt"])
def test_example_text_cannot_read_a_file_outside_its_folder(tmp_path, value):
    examples = _gallery_with_text(tmp_path, value)
    site = tmp_path / "site"
    proc = run_cli("gallery", str(examples), "-o", str(site), cwd=tmp_path, env=own_config_env(tmp_path))
    assert_refused(proc, "leak")
    assert "leak.toml" in proc.stderr + proc.stdout and "--trust-config" in proc.stderr + proc.stdout
    for path in site.rglob("*"):
        if path.is_file():
            assert SECRET_TEXT not in path.read_text(encoding="utf-8", errors="replace"), path
    assert SECRET_TEXT not in proc.stdout + proc.stderr


def test_example_file_trusted_by_hand_may_name_any_file(tmp_path):
    from storymode.gallery import load_example

    examples = _gallery_with_text(tmp_path, "ABS")
    with pytest.raises(UsageError, match="outside the example's folder"):
        load_example(examples / "leak.toml")
    assert load_example(examples / "leak.toml", trusted=True).text == tmp_path / "private" / "secret.txt"


@pytest.mark.parametrize("body", ['[options.writer]\ntrust_remote_code = true',
                                  'writer = "openai"\n[options.writer]\nbase_url = "http://127.0.0.1:9/v1"\n'
                                  'api_key_env = "SOME_SECRET"'])
def test_example_options_are_data_too(tmp_path, body):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "sneaky.toml").write_text(f'prompt = "a fox"\n{body}\n')
    proc = run_cli("gallery", str(examples), "-o", str(tmp_path / "site"), cwd=tmp_path,
                   env={**own_config_env(tmp_path), "SOME_SECRET": SECRET})
    assert_refused(proc)
    out = proc.stdout + proc.stderr
    assert "sneaky.toml" in out and "--trust-config" in out and SECRET not in out


# ---------------------------------------------------------------- broken config files: clean exit 2
DEEP = 5000
BROKEN = [
    ("a = " + "[" * DEEP + "]" * DEEP, "nest more than"),
    ("a = " + "{b = " * DEEP + "1" + "}" * DEEP, "nest more than"),
    (".".join(["a"] * DEEP) + " = 1", "nest more than"),
    ("# " + "x" * 2_000_000, "larger than"),
    ("[profiles]\nx = 1", "[profiles] x must be a table"),
    ("profiles = 1", "profiles must be tables"),
    ("[profiles.x]\noptions = 1", "[profiles.x]: options"),
    ("options = 1", "options: input should be a valid dictionary"),
    ("[options]\nwriter = 1", "options.writer: input should be a valid dictionary"),
    ("[options.bogus]\nx = 1", "[options.bogus] names no stage; the stages are: writer, narrator, illustrator"),
]


@pytest.mark.parametrize("text,needle", BROKEN, ids=[f"broken{i}" for i in range(len(BROKEN))])
@pytest.mark.parametrize("profile", [[], ["--profile", "x"]], ids=["plain", "profile"])
def test_broken_config_is_a_clean_usage_error(tmp_path, text, needle, profile):
    (tmp_path / "storymode.toml").write_text(text + "\n")
    proc = run_cli("make", "a fox", "-o", "fox.mp4", *profile, cwd=tmp_path, env=own_config_env(tmp_path))
    assert_refused(proc, "storymode.toml", needle)


def test_config_error_messages_say_what_is_wrong(tmp_path):
    cfg = tmp_path / "storymode.toml"
    cfg.write_text("[profiles]\nx = 1\n")
    with pytest.raises(UsageError, match=r"storymode.toml: \[profiles\] x must be a table"):
        resolve_settings(config=cfg, environ={})
    cfg.write_text("[options.bogus]\nx = 1\n")
    with pytest.raises(UsageError, match=r"\[options.bogus\].*writer, narrator, illustrator, composer"):
        resolve_settings(config=cfg, environ={})
    cfg.write_text("a = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(UsageError, match="nest more than"):
        resolve_settings(config=cfg, environ={})
    with pytest.raises(UsageError, match=r"\[options.bogus\]"):
        resolve_settings({"options": {"bogus": {}}}, environ={})


def test_trust_in_python(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "own"))
    cfg = tmp_path / "project" / "storymode.toml"
    cfg.parent.mkdir()
    cfg.write_text('[options.writer]\ntrust_remote_code = true\n')
    with pytest.raises(UsageError, match="trust_remote_code"):
        resolve_settings(config=cfg, environ={})
    assert resolve_settings(config=cfg, environ={}, trust_config=True).options["writer"]["trust_remote_code"]
    with trusting():
        assert resolve_settings(config=cfg, environ={}).options["writer"]["trust_remote_code"]
    assert resolve_settings({"options": {"writer": {"trust_remote_code": True}}}, environ={})  # the caller's own


# ---------------------------------------------------------------- compose -o
@pytest.mark.parametrize("command", ["compose", "make"])
@pytest.mark.parametrize("out", ["-", ".mp4", "x.avi", "sub/.MP4", "x"])
def test_video_output_must_be_a_named_mp4(tmp_path, command, out):
    args = ["compose", "-d", "x.storymode"] if command == "compose" else ["make", "a fox"]
    proc = run_cli(*args, "-o", out, cwd=tmp_path, env=own_config_env(tmp_path))
    assert_refused(proc, ".mp4")
    assert not list(tmp_path.glob("*.storymode"))
