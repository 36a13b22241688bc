"""Fuzzing what a story folder holds: story.json, narration timings, a cut recording's index, manifest.json and
.toml files placed in the folder. The real code paths run on a tiny story (load_story, opening the folder, the
narrate stage from its cache, the timeline and captions, settings and example files): only storymode's own
errors may come out, and a sibling folder "outside", which crafted paths point into, is never touched.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from storymode.errors import StorymodeError  # noqa: E402

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
OUT = "@OUTSIDE@"  # stands for the sibling folder's absolute path in drawn values
TALE = "The fox sat on the hill. It was happy."
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

PATHS = st.sampled_from([
    f"{OUT}/secret.wav", f"{OUT}/notes.txt", OUT, f"{OUT}/story.json", f"{OUT}/picture.png",
    "../outside/secret.wav", "../../outside/secret.wav", "narration/../../outside/secret.wav",
    f"file:{OUT}/secret.wav", f"{OUT}/../outside/secret.wav", "/etc/passwd", "~/secret.wav", "..", ".", "", "/",
    "a\x00b", "x" * 300, "0123456789abcdef0123.wav", ".lock", "story.json", "C:\\outside\\secret.wav",
])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(), st.text(max_size=20),
                    PATHS)
JSON = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                    st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                    max_leaves=12)
DEEP = b"[" * 50_000  # json.loads raises RecursionError, not ValueError, on this
ODD_BYTES = st.sampled_from([b"", b"\xff\xfe not utf-8", DEEP, b'{"lines": ' + DEEP, b"null", b"1e999999",
                             b'"' + b"9" * 10_000 + b'"', b"\x00" * 64])


def _outside(value: Any, outside: Path) -> Any:
    """The drawn value with the placeholder replaced by the sibling folder's path."""
    if isinstance(value, str):
        return value.replace(OUT, str(outside))
    if isinstance(value, list):
        return [_outside(v, outside) for v in value]
    if isinstance(value, dict):
        return {_outside(k, outside): _outside(v, outside) for k, v in value.items()}
    return value


def mutate(data: st.DataObject, doc: Any, values: st.SearchStrategy = JSON) -> Any:
    """doc with one to three values somewhere in it replaced by drawn ones, or deleted."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        node = doc
        while isinstance(node, (dict, list)) and node:
            key = data.draw(st.sampled_from(sorted(node)) if isinstance(node, dict)
                            else st.integers(0, len(node) - 1))
            if not isinstance(node[key], (dict, list)) or data.draw(st.booleans()):
                if data.draw(st.integers(0, 3)) == 0:
                    del node[key]
                else:
                    node[key] = data.draw(values)
                break
            node = node[key]
    return doc


def draw_json_file(data: st.DataObject, valid: Any, outside: Path, deep: bool = True) -> bytes:
    """The bytes of a crafted JSON file: mostly the valid document mutated, sometimes anything at all."""
    kind = data.draw(st.sampled_from(["mutated", "mutated", "mutated", "any", "bytes"]))
    if kind == "bytes":
        return data.draw(ODD_BYTES if deep else ODD_BYTES.filter(lambda b: DEEP not in b))
    doc = mutate(data, valid) if kind == "mutated" else data.draw(JSON)
    return json.dumps(_outside(doc, outside)).encode()


def snapshot(folder: Path) -> dict:
    """Every entry under folder (links not followed): kind, size, mtime and a hash of the bytes."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        st_ = path.lstat()
        seen[str(path.relative_to(folder))] = (
            ("link", os.readlink(path)) if path.is_symlink() else
            ("file", st_.st_size, st_.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
            if path.is_file() else ("dir", st_.st_mtime_ns))
    return seen


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny narrated and illustrated story folder (1 scene, 2 lines), a cut recording's index for it, and a
    sibling folder "outside" with someone's files."""
    import storymode
    from storymode.config import resolve_settings
    from storymode.pipeline.reading import Recording, cut_key

    root = tmp_path_factory.mktemp("fuzz-folder")
    (root / "tale.txt").write_text(TALE)
    pristine = root / "pristine.storymode"
    story = storymode.write(story_dir=pristine, from_file=root / "tale.txt", scenes=1)
    lines = storymode.narrate(pristine, align="off")
    images = storymode.illustrate(pristine, resolution="480p")
    outside = root / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("my notes\n")
    (outside / ".thesis.part1.tex").write_text("\\chapter{One}\n")
    shutil.copyfile(lines[0][0].path, outside / "secret.wav")
    shutil.copyfile(images[0], outside / "picture.png")
    shutil.copyfile(pristine / "story.json", outside / "story.json")
    # the same lines as a cut recording: clips named as storymode names them, an index, a remembered reading
    recording = Recording(root / "gone.m4a", "ab" * 32)
    rows = []
    for scene in lines:
        row = []
        for line in scene:
            wav = Path(line.path)
            clip = hashlib.sha256(wav.name.encode()).hexdigest()[:20] + ".wav"
            shutil.copyfile(wav, wav.with_name(clip))
            timings = json.loads(wav.with_suffix(".json").read_text())
            row.append({**timings, "wav": clip, "voice": "recording", "source": [0.0, timings["duration"]]})
        rows.append(row)
    index = {"recording": {"path": str(recording.path), "sha256": recording.sha256}, "lines": rows}
    remembered = {"path": str(recording.path), "sha256": recording.sha256, "stamp": None}
    return {"root": root, "pristine": pristine, "story": story, "outside": outside, "images": images,
            "settings": resolve_settings({"align": "off", "resolution": "480p", "scenes": 1}, environ={}),
            "timings_path": Path(lines[0][0].path).with_suffix(".json"),
            "index_name": f"{cut_key(recording, story)}.recording.json", "index": index, "remembered": remembered}


@pytest.fixture
def work(tiny: dict) -> Any:
    """A function giving a fresh copy of the tiny story folder for each example."""
    def fresh() -> Path:
        folder = tiny["root"] / "work.storymode"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(tiny["pristine"], folder)
        return folder
    return fresh


def timeline_of(story: Any, lines: list, images: list[str]) -> None:
    """The timeline and the captions of the narrated lines (the compose stage's pure part)."""
    from storymode.composers.captions import to_ass, to_srt, to_vtt
    from storymode.timeline import build_timeline

    timeline = build_timeline(story, lines, images * len(story.scenes), width=854, height=480, fps=24)
    to_srt(timeline.cues), to_vtt(timeline.cues), to_ass(timeline.cues, 854, 480)


def inside(folder: Path, lines: list) -> None:
    """Every narrated line's audio is a file of the folder's narration/."""
    for scene in lines:
        for line in scene:
            assert Path(line.path).parent == folder / "narration", line.path


@FUZZ
@given(data=st.data())
def test_story_json(tiny, work, data):
    from storymode.pipeline import write_stage
    from storymode.story import load_story
    from storymode.timeline import LineAudio
    from storymode.workspace import Workspace

    folder = work()
    valid = json.loads((folder / "story.json").read_text())
    (folder / "story.json").write_bytes(draw_json_file(data, valid, tiny["outside"], deep=False))
    before = snapshot(tiny["outside"])
    try:
        story = load_story(folder / "story.json")
        with Workspace(folder) as ws:
            story = write_stage(ws, tiny["settings"])
        wav = next((folder / "narration").glob("*.wav"))
        lines = [[LineAudio(str(wav), 1.0, line.speaker, ((line.text, 0.0, 1.0),), ()) for line in scene.lines]
                 for scene in story.scenes]
        timeline_of(story, lines, tiny["images"])
    except StorymodeError:
        pass
    assert snapshot(tiny["outside"]) == before


def test_deeply_nested_story_json_is_a_usage_error(tmp_path):
    from storymode.errors import StoryValidationError
    from storymode.story import load_story

    (tmp_path / "story.json").write_bytes(DEEP)
    with pytest.raises(StoryValidationError):
        load_story(tmp_path / "story.json")


@FUZZ
@given(data=st.data())
def test_narration_timings_record(tiny, work, data):
    from storymode.pipeline import narrate_stage
    from storymode.workspace import Workspace

    folder = work()
    record = folder / "narration" / tiny["timings_path"].name
    record.write_bytes(draw_json_file(data, json.loads(record.read_text()), tiny["outside"]))
    before = snapshot(tiny["outside"])
    try:
        with Workspace(folder) as ws:
            lines = narrate_stage(ws, tiny["story"], tiny["settings"])
        inside(folder, lines)
        timeline_of(tiny["story"], lines, tiny["images"])
    except StorymodeError:
        pass
    assert snapshot(tiny["outside"]) == before


@FUZZ
@given(data=st.data())
def test_recording_index_and_manifest(tiny, work, data):
    from storymode.pipeline import reading
    from storymode.pipeline import check_output
    from storymode.workspace import Workspace

    folder = work()
    (folder / "narration" / tiny["index_name"]).write_bytes(draw_json_file(data, tiny["index"], tiny["outside"]))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["narration_audio"] = tiny["remembered"]
    if data.draw(st.booleans()):
        manifest = mutate(data, manifest)
    (folder / "manifest.json").write_text(json.dumps(_outside(manifest, tiny["outside"])))
    before = snapshot(tiny["outside"])
    try:
        with Workspace(folder) as ws:
            check_output(tiny["root"] / "out.mp4", ws, force=False)
            recording = reading.choose(ws, None)
            lines = reading.narrate(ws, tiny["story"], recording) if recording else []
        inside(folder, lines)
        if lines:
            timeline_of(tiny["story"], lines, tiny["images"])
    except StorymodeError:
        pass
    assert snapshot(tiny["outside"]) == before


# ---------------------------------------------------------------- .toml files in the folder
def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's (a lone surrogate is a TOML error, as it should be)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def to_toml(doc: dict) -> str:
    """A TOML document: top-level values, then one [table] per dict."""
    top = [f"{json.dumps(k)} = {_toml(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"[{json.dumps(k)}]\n" + "\n".join(f"{json.dumps(kk)} = {_toml(vv)}" for kk, vv in v.items())
              for k, v in doc.items() if isinstance(v, dict)]
    return "\n".join(top + tables) + "\n"


TOML_SCALARS = st.one_of(st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1), st.floats(), st.text(max_size=20), PATHS)
TOML_VALUES = st.recursive(TOML_SCALARS, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=8), kids, max_size=3)), max_leaves=8)
KEYS = st.sampled_from(["title", "prompt", "text", "story", "music", "scenes", "seed", "aspect", "resolution",
                        "fps", "writer", "narrator", "illustrator", "composer", "audience", "style", "tone",
                        "words_per_scene", "align", "options", "profiles"])


def _example_docs() -> list[dict]:
    import tomllib

    docs = [tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.toml"))]
    return docs or [{"prompt": "a fox", "scenes": 1}]


@FUZZ
@given(data=st.data())
def test_toml_files(tiny, work, data):
    from storymode.config import resolve_settings
    from storymode.gallery import load_example

    folder = work()
    kind = data.draw(st.sampled_from(["example", "example", "drawn", "text"]))
    if kind == "text":
        text = data.draw(st.text(max_size=200))
    else:
        doc = data.draw(st.sampled_from(_example_docs())) if kind == "example" else {}
        doc = mutate(data, doc, TOML_VALUES) if doc else doc
        for key, value in data.draw(st.dictionaries(KEYS, TOML_VALUES, max_size=4)).items():
            doc[key] = value
        text = to_toml(_outside(doc, tiny["outside"]))
    before = snapshot(tiny["outside"])
    for name in ("storymode.toml", "example.toml"):
        path = folder / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        for load in (lambda: resolve_settings(config=path, environ={}), lambda: load_example(path)):
            try:
                load()
            except StorymodeError:
                pass
    assert snapshot(tiny["outside"]) == before
