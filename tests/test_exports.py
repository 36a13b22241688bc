"""The export stage and its front ends: formats chosen by name, cached by key, refused with what to run first, and
nothing half-written under a final name when the disk fills."""
from __future__ import annotations

import dataclasses
import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import storymode
from storymode.errors import UsageError
from storymode.events import Event
from storymode.outputs import formats
from storymode.workspace import temp_name_pattern

from .conftest import manifest, run_cli


@pytest.fixture
def folder(rendered: dict, tmp_path: Path) -> Path:
    """A copy of the rendered fox's story folder (its timeline still names the first folder's media)."""
    copy = tmp_path / "fox.storymode"
    shutil.copytree(rendered["dir"], copy)
    shutil.rmtree(copy / "exports")
    return copy


def _cached(events: list[Event]) -> int:
    return next(e.cached for e in events if e.kind == "stage-end" and e.stage == "export")


def test_make_writes_the_storybook_page_under_exports(rendered: dict) -> None:
    page = rendered["dir"] / "exports" / "storybook.html"
    assert page.is_file() and "<section class=\"page\"" in page.read_text(encoding="utf-8")
    record = manifest(rendered["dir"])["exports"]["exports/storybook.html"]
    assert record["format"] == "html" and len(record["sha256"]) == 64


def test_an_export_is_reused_until_its_file_or_story_changes(folder: Path) -> None:
    events: list[Event] = []
    made = storymode.export(folder, "html", on_event=events.append)
    assert made == {"html": folder / "exports" / "storybook.html"} and _cached(events) == 0
    first = made["html"].read_bytes()

    events.clear()
    storymode.export(folder, "html", on_event=events.append)
    assert _cached(events) == 1 and made["html"].read_bytes() == first

    made["html"].write_text("changed by hand", encoding="utf-8")  # no longer the file we wrote: made again
    events.clear()
    storymode.export(folder, "html", on_event=events.append)
    assert _cached(events) == 0 and made["html"].read_bytes() == first

    events.clear()
    storymode.export(folder, "html", fresh=True, on_event=events.append)
    assert _cached(events) == 0


def test_unknown_formats_are_listed_with_the_valid_ones(folder: Path, tmp_path: Path) -> None:
    proc = run_cli("export", "-d", str(folder), "--format", "epub,docx")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown export format 'docx'" in proc.stderr
    assert "html, epub, pdf, otio, fcpxml, kdenlive (or all)" in proc.stderr

    proc = run_cli("make", "a fox", "-o", str(tmp_path / "new.mp4"), "--export", "mobi")
    assert proc.returncode == 2 and "unknown export format 'mobi'" in proc.stderr
    assert not (tmp_path / "new.storymode").exists()  # refused before any work

    with pytest.raises(UsageError, match="at least one export format"):
        storymode.export(folder, "")
    with pytest.raises(UsageError, match="unknown page size 'a5'"):
        storymode.export(folder, "pdf", page_size="a5")


def test_settings_file_and_flags_name_the_formats(tmp_path: Path) -> None:
    from storymode.config import Settings, resolve_settings

    (tmp_path / "storymode.toml").write_text('export = "pdf, EPUB"\npage_size = "square"\n', encoding="utf-8")
    settings = resolve_settings({}, config=tmp_path / "storymode.toml")
    assert settings.export == ("epub", "pdf") and settings.page_size == "square"
    assert Settings(export="all").export == formats.EXPORT_NAMES
    (tmp_path / "bad.toml").write_text('export = ["pdf", "docx"]\n', encoding="utf-8")
    with pytest.raises(UsageError, match="unknown export format 'docx'"):
        resolve_settings({}, config=tmp_path / "bad.toml")


def test_a_story_without_pictures_is_refused_with_what_to_run_first(tmp_path: Path) -> None:
    proc = run_cli("write", "a hedgehog who collects buttons", "-d", str(tmp_path / "h"), "--scenes", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("export", "-d", str(tmp_path / "h"), "--format", "pdf")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no pictures and narration" in proc.stderr and f"storymode compose -d {tmp_path / 'h'}" in proc.stderr
    assert not (tmp_path / "h" / "exports" / "book-a4.pdf").exists()

    proc = run_cli("export", "-d", str(tmp_path / "nothing"), "--format", "html")
    assert proc.returncode == 2 and "no story folder" in proc.stderr


def test_a_story_edited_since_its_compose_is_refused(folder: Path) -> None:
    story = json.loads((folder / "story.json").read_text(encoding="utf-8"))
    story["scenes"][0]["lines"][0]["text"] = "A new first line that the timeline has never heard."
    (folder / "story.json").write_text(json.dumps(story), encoding="utf-8")
    with pytest.raises(UsageError, match="story.json has changed since the story was last composed"):
        storymode.export(folder, "html")


def test_a_format_whose_library_is_missing_says_what_to_install(folder: Path, monkeypatch) -> None:
    missing = dataclasses.replace(formats.FORMATS["pdf"], needs=("no_such_module_storymode",),
                                  install="pip install no-such-module")
    monkeypatch.setitem(formats.FORMATS, "pdf", missing)
    with pytest.raises(UsageError, match=r"the pdf export needs libraries that are not installed: pip install no-su"):
        storymode.export(folder, "pdf")
    assert not (folder / "exports").exists()  # refused before the folder was touched


def _no_room(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: a write gets EFBIG


def test_a_full_disk_leaves_nothing_under_the_final_name(folder: Path) -> None:
    page = folder / "exports" / "storybook.html"
    before = manifest(folder).get("exports")
    proc = subprocess.run([sys.executable, "-m", "storymode", "export", "-d", str(folder), "--format", "html",
                           "--quiet"], capture_output=True, text=True, timeout=240,
                          preexec_fn=lambda: _no_room(64_000))  # the page holds the pictures: far more than this
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1  # which write failed first
    assert not page.exists()  # (the page, or its scratch audio) varies: what is left behind does not
    leftovers = [p.name for p in (folder / "exports").iterdir() if temp_name_pattern().fullmatch(p.name)]
    assert leftovers == [] and manifest(folder).get("exports") == before  # nothing recorded for a file not made

    proc = run_cli("export", "-d", str(folder), "--format", "html", "--quiet")  # with room again it lands
    assert proc.returncode == 0, proc.stderr
    assert page.is_file() and "<section class=\"page\"" in page.read_text(encoding="utf-8")


def test_a_disk_that_fills_mid_write_is_reported_and_leaves_no_file(folder: Path, monkeypatch) -> None:
    import errno

    def half_then_full(job, dest: Path) -> None:
        dest.write_bytes(b"<html>half a page")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(formats.FORMATS, "html", dataclasses.replace(formats.FORMATS["html"], writer="x:y"))
    monkeypatch.setattr(formats.ExportFormat, "write", lambda self, job, dest: half_then_full(job, dest))
    with pytest.raises(UsageError, match=r"no room to write exports/storybook.html \(No space left on device\); "
                                         "nothing was left under that name"):
        storymode.export(folder, "html")
    assert sorted(p.name for p in (folder / "exports").iterdir()) == []


def test_make_export_all_writes_every_format_and_reuses_the_rest(rendered: dict) -> None:
    import zipfile

    import opentimelineio as otio

    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--export", "all",
                   "--progress", "json", cwd=rendered["root"])
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    ends = {e["stage"]: e for e in events if e["kind"] == "stage-end"}
    assert all(ends[stage]["cached"] == ends[stage]["total"] for stage in ("write", "narrate", "illustrate"))
    assert ends["compose"]["cached"] > 0  # the video was not rendered again for the exports
    made = {name: Path(path) for name, path in events[-1]["data"]["exports"].items()}
    assert sorted(made) == sorted(formats.EXPORT_NAMES)
    assert all(path.parent == rendered["dir"] / "exports" and path.is_file() for path in made.values())
    with zipfile.ZipFile(made["epub"]) as book:
        assert book.read("mimetype") == b"application/epub+zip"
    assert made["pdf"].name == "book-a4.pdf" and made["pdf"].read_bytes()[:5] == b"%PDF-"
    timeline = otio.adapters.read_from_file(str(made["otio"]))
    assert len([c for c in timeline.video_tracks()[0].find_clips()]) == 2  # one picture per scene
