"""A crafted story folder cannot make storymode write, truncate, delete or read files outside itself.

Each finding of the security review is played through the CLI on a copy of one small real story folder, with a
sibling folder "outside" that a link in the story folder points into: the run is refused (exit code 2, a message
naming the path inside the folder) and "outside" keeps every byte and every mtime.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import run_cli

PROMPT = "a fox who keeps a lighthouse"
SMALL = ["--resolution", "480p", "--align", "off", "--quiet"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real story folder (1 scene, 480p, no alignment), made once; tests work on copies."""
    root = tmp_path_factory.mktemp("safety-base")
    proc = run_cli("make", PROMPT, "-o", "base.mp4", "--scenes", "1", *SMALL, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "base.storymode"


@pytest.fixture
def case(base: Path, tmp_path: Path) -> dict:
    """A fresh copy of the story folder and a sibling folder "outside" holding someone's files."""
    folder = tmp_path / "s.storymode"
    shutil.copytree(base, folder)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("my notes, not storymode's\n")
    (outside / "pid-like.txt").write_text("12345\n")
    (outside / ".thesis.part1.tex").write_text("\\chapter{One}\n")
    (outside / ".config.partial").write_text("colour = blue\n")
    shutil.copyfile(next((folder / "art").glob("*.png")), outside / "picture.png")
    shutil.copyfile(next((folder / "narration").glob("*.wav")), outside / "secret.wav")
    return {"folder": folder, "outside": outside, "out": tmp_path / "out.mp4", "root": tmp_path}


def snapshot(folder: Path) -> dict:
    """Every entry under folder (links not followed): kind, size, mtime and a hash of the bytes."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            seen[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif path.is_file():
            seen[str(path.relative_to(folder))] = ("file", st.st_size, st.st_mtime_ns,
                                                   hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            seen[str(path.relative_to(folder))] = ("dir",)
    return seen


def compose(case: dict):  # type: ignore[no-untyped-def]
    """`storymode compose -d FOLDER -o out.mp4` as a user runs it."""
    return run_cli("compose", "-d", str(case["folder"]), "-o", str(case["out"]), *SMALL, timeout=120)


def refused(proc, *needles: str) -> None:  # type: ignore[no-untyped-def]
    """Exit code 2, no traceback, and each needle in the message."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def replace_with_link(path: Path, target: Path) -> None:
    """path becomes a symbolic link to target (a file or a folder)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


# ---------------------------------------------------------------- writes
@pytest.mark.parametrize("command", ["compose", "make"])
def test_lock_link_is_refused_and_its_target_keeps_its_bytes(case, command):
    replace_with_link(case["folder"] / ".lock", case["outside"] / "notes.txt")
    before = snapshot(case["outside"])
    if command == "compose":
        proc = compose(case)
    else:
        proc = run_cli("make", PROMPT, "-o", str(case["out"]), "--story-dir", str(case["folder"]), "--scenes", "1",
                       *SMALL, timeout=120)
    refused(proc, ".lock is a symbolic link", "may not contain links")
    assert snapshot(case["outside"]) == before
    assert not case["out"].exists()


@pytest.mark.parametrize("kind", ["someone's file", "hard link"])
def test_lock_that_is_not_a_lock_is_never_truncated(case, kind):
    lock = case["folder"] / ".lock"
    lock.unlink(missing_ok=True)
    if kind == "hard link":  # digits, like a pid, but the file has another name outside
        os.link(case["outside"] / "pid-like.txt", lock)
    else:
        lock.write_text("my own notes, in a file I happened to call .lock\n")
    before = snapshot(case["outside"])
    stamp = (lock.read_bytes(), lock.stat().st_mtime_ns)
    refused(compose(case), ".lock", "not a storymode lock file")
    assert snapshot(case["outside"]) == before
    assert (lock.read_bytes(), lock.stat().st_mtime_ns) == stamp


def test_ffmpeg_log_link_is_refused(case):
    replace_with_link(case["folder"] / "build" / "ffmpeg.log", case["outside"] / "notes.txt")
    before = snapshot(case["outside"])
    refused(compose(case), "build/ffmpeg.log is a symbolic link")
    assert snapshot(case["outside"]) == before


@pytest.mark.parametrize("name", ["art", "build", "narration"])
def test_linked_subfolder_is_refused_and_nothing_is_written_or_swept_there(case, name):
    target = case["outside"] / name
    shutil.copytree(case["folder"] / name, target)
    replace_with_link(case["folder"] / name, target)
    before = snapshot(case["outside"])
    refused(compose(case), f"{name} is a symbolic link", "replace it with a real folder")
    assert snapshot(case["outside"]) == before  # .thesis.part1.tex and .config.partial are still there
    # make sweeps stale temporaries before anything else: still nothing outside is touched
    proc = run_cli("make", PROMPT, "-o", str(case["out"]), "--story-dir", str(case["folder"]), "--scenes", "1",
                   *SMALL, timeout=120)
    refused(proc, f"{name} is a symbolic link")
    assert snapshot(case["outside"]) == before


def test_dangling_font_link_creates_nothing_outside(case):
    fonts = case["folder"] / "build" / "fonts"
    replace_with_link(fonts / "DejaVuSans.ttf", case["outside"] / "made-by-storymode.ttf")
    before = snapshot(case["outside"])
    refused(compose(case), "build/fonts/DejaVuSans.ttf is a symbolic link")
    assert not (case["outside"] / "made-by-storymode.ttf").exists()
    assert snapshot(case["outside"]) == before


def test_story_folder_that_is_itself_a_link_is_refused(case):
    link = case["root"] / "link.storymode"
    link.symlink_to(case["folder"])
    proc = run_cli("compose", "-d", str(link), "-o", str(case["out"]), *SMALL, timeout=120)
    refused(proc, "is a symbolic link", str(case["folder"]))


def test_special_file_is_refused_without_hanging(case):
    os.mkfifo(case["folder"] / "narration" / "waiting.json")
    refused(compose(case), "narration/waiting.json is a named pipe")


# ---------------------------------------------------------------- the stale-temporary sweep
def test_sweep_deletes_only_its_own_temporaries(case):
    folder = case["folder"]
    mine = [folder / ".thesis.part1.tex", folder / ".config.partial", folder / "build" / ".thesis.part1.tex",
            folder / "build" / ".config.partial", folder / "art" / ".notes.part"]
    for path in mine:
        path.write_text("keep me\n")
    stale = [folder / "build" / ".timeline.k3x9_a2b.json.part", folder / "narration" / ".abc.0123abcd.wav.part",
             case["root"] / ".out.zz9y8x7w.part.mp4"]
    for path in stale:
        path.write_bytes(b"half a file")
    stamps = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in mine}
    proc = run_cli("make", PROMPT, "-o", str(case["out"]), "--story-dir", str(folder), "--scenes", "1", *SMALL,
                   timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in mine} == stamps
    assert not [path for path in stale if path.exists()]
    assert case["out"].stat().st_size > 0  # atomic writes still land under their final names


def test_sweep_never_follows_or_deletes_a_link(tmp_path):
    from storymode.errors import UsageError
    from storymode.workspace import sweep_temporaries

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / ".timeline.abcdefgh.json.part").symlink_to(outside / "keep.txt")  # our temp name, but a link
    (folder / ".story.abcdefgh.json.part").write_text("stale")
    sweep_temporaries(folder)
    assert (folder / ".timeline.abcdefgh.json.part").is_symlink()
    assert not (folder / ".story.abcdefgh.json.part").exists()
    assert (outside / "keep.txt").read_text() == "mine"
    linked = tmp_path / "linked"
    linked.symlink_to(outside, target_is_directory=True)
    (outside / ".timeline.abcdefgh.json.part").write_text("not ours to delete")
    with pytest.raises(UsageError, match="symbolic link"):
        sweep_temporaries(linked)
    assert (outside / ".timeline.abcdefgh.json.part").exists()


# ---------------------------------------------------------------- reads
@pytest.mark.parametrize("sub, pattern, target", [("art", "*.png", "picture.png"),
                                                  ("narration", "*.wav", "secret.wav")])
def test_linked_picture_or_narration_is_refused(case, sub, pattern, target):
    artifact = next((case["folder"] / sub).glob(pattern))
    replace_with_link(artifact, case["outside"] / target)
    before = snapshot(case["outside"])
    refused(compose(case), f"{sub}/{artifact.name} is a symbolic link")
    assert snapshot(case["outside"]) == before
    assert not case["out"].exists()


@pytest.mark.parametrize("given", ["absolute", "dotdot", "relative", "link"])
def test_remembered_recording_outside_the_folder_is_not_read(case, given):
    secret = case["outside"] / "secret.wav"
    path = {"absolute": str(secret), "dotdot": f"{case['folder']}/../outside/secret.wav",
            "relative": "../outside/secret.wav", "link": str(case["outside"] / "link.wav")}[given]
    if given == "link":
        (case["outside"] / "link.wav").symlink_to(secret)
    manifest = json.loads((case["folder"] / "manifest.json").read_text())
    manifest["narration_audio"] = {"path": path, "sha256": "0" * 64,
                                   "stamp": {"size": secret.stat().st_size, "mtime_ns": 1}}
    (case["folder"] / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(case["outside"])
    proc = compose(case)
    if given == "absolute":  # a real file, but not the bytes this folder was cut from
        refused(proc, str(secret), "is not the recording this story folder was narrated from")
    else:
        refused(proc, "manifest.json: narration_audio", "not the absolute path")
    assert snapshot(case["outside"]) == before
    assert not case["out"].exists()


def _recording_index(case: dict, wav_name) -> Path:  # type: ignore[no-untyped-def]
    """A remembered (now gone) recording and its cached cut, whose clips are the folder's synthesized lines
    with the clip file named by wav_name(line's wav path)."""
    from storymode.pipeline.reading import Recording, cut_key
    from storymode.story import load_story

    folder = case["folder"]
    story = load_story(folder / "story.json")
    sha = "ab" * 32
    recording = Recording(case["root"] / "gone.m4a", sha)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["narration_audio"] = {"path": str(recording.path), "sha256": sha, "stamp": None}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    synthesized = {}
    for meta in (folder / "narration").glob("*.json"):
        timings = json.loads(meta.read_text())
        if "text" in timings:
            synthesized[timings["text"]] = (timings, meta.with_suffix(".wav"))
    rows = []
    for scene in story.scenes:
        row = []
        for line in scene.lines:
            timings, wav = synthesized[line.text]
            row.append({**timings, "wav": wav_name(wav), "voice": "recording"})
        rows.append(row)
    index = folder / "narration" / f"{cut_key(recording, story)}.recording.json"
    index.write_text(json.dumps({"recording": {"path": str(recording.path), "sha256": sha}, "lines": rows}))
    return index


@pytest.mark.parametrize("where", ["absolute", "dotdot"])
def test_recording_record_naming_a_file_outside_is_cut_again_not_read(case, where):
    secret = case["outside"] / "secret.wav"
    name = str(secret) if where == "absolute" else "../../outside/secret.wav"
    _recording_index(case, lambda wav: name)
    before = snapshot(case["outside"])
    # the cache entry is treated as missing, so the recording would be cut again: it is gone, and that is said
    refused(compose(case), "gone.m4a", "which is gone")
    assert snapshot(case["outside"]) == before
    assert not case["out"].exists()


def test_recording_record_with_clips_inside_is_used(case):
    def clip_name(wav: Path) -> str:  # a clip named as storymode names cut clips, inside narration/
        name = hashlib.sha256(wav.name.encode()).hexdigest()[:20] + ".wav"
        shutil.copyfile(wav, wav.with_name(name))
        return name

    _recording_index(case, clip_name)
    proc = compose(case)
    assert proc.returncode == 0, proc.stderr
    assert case["out"].stat().st_size > 0


# ---------------------------------------------------------------- below the CLI
def test_composer_replaces_links_in_its_workdir_and_writes_nothing_outside(tmp_path):
    from .test_compose import _render, _timeline

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("my notes\n")
    build = tmp_path / "build"
    (build / "fonts").mkdir(parents=True)
    (build / "ffmpeg.log").symlink_to(outside / "notes.txt")
    (build / "fonts" / "DejaVuSans.ttf").symlink_to(outside / "new.ttf")
    before = snapshot(outside)
    _render(_timeline(tmp_path, [1.0]), tmp_path)
    assert snapshot(outside) == before
    assert not (build / "ffmpeg.log").is_symlink() and (build / "ffmpeg.log").is_file()
    assert not (build / "fonts" / "DejaVuSans.ttf").is_symlink()
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_atomic_write_replaces_a_link_not_its_target(tmp_path):
    from storymode.workspace import atomic_write_text

    (tmp_path / "target.txt").write_text("someone's")
    (tmp_path / "final.txt").symlink_to(tmp_path / "target.txt")
    atomic_write_text(tmp_path / "final.txt", "ours")
    assert not (tmp_path / "final.txt").is_symlink() and (tmp_path / "final.txt").read_text() == "ours"
    assert (tmp_path / "target.txt").read_text() == "someone's"
    assert oct((tmp_path / "final.txt").stat().st_mode & 0o777) != "0o600"  # the usual mode, not mkstemp's


def test_lock_is_written_only_to_a_file_it_made(tmp_path):
    from storymode.workspace import Workspace

    with Workspace(tmp_path / "s") as ws:
        assert (ws.root / ".lock").read_text() == str(os.getpid())
    with Workspace(tmp_path / "s"):  # its own lock from the run before: taken again
        assert (tmp_path / "s" / ".lock").read_text() == str(os.getpid())
