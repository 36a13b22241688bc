"""Rendering the examples (cached story folders) and copying each story's files into the site."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


from ..errors import StorymodeError, UsageError
from .stories import GalleryResult, GalleryStory
from .page import write_index
from .examples import Example, find_examples, load_example


POSTER_WIDTH = 640


PREVIEW_CHARS = 320


# ---------------------------------------------------------------- building one story
def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def _poster(video: Path, seconds: float, target: Path) -> None:
    """A JPEG of the frame at `seconds`, at most POSTER_WIDTH wide; redone only when the video is newer."""
    from ..ffmpeg_exe import ffmpeg_exe

    if target.exists() and target.stat().st_mtime_ns >= video.stat().st_mtime_ns:
        return
    tmp = target.with_name(f".{target.stem}.part.jpg")
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-ss", f"{seconds:.3f}",
           "-i", str(video), "-frames:v", "1", "-vf", f"scale='min({POSTER_WIDTH},iw)':-2", "-q:v", "4", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not tmp.exists():
        raise StorymodeError(f"could not take a poster frame from {video}: {done.stderr.strip()[-300:]}")
    tmp.replace(target)


def _preview(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS].rsplit(" ", 1)[0] + " …"


def build_story(example: Example, out_dir: Path) -> GalleryStory:
    """Render one example (cached in its story folder) and take its poster; errors are raised."""
    from .. import api
    from ..events import Event
    from ..pipeline import read_user_text
    from ..story import load_story

    t0 = time.perf_counter()
    folder = out_dir / "stories" / example.name
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"{example.name}.mp4"
    story_dir = folder / f"{example.name}.storymode"
    ends: list[Event] = []

    def listen(event: Event) -> None:
        if event.kind == "stage-end":
            ends.append(event)

    if example.story is not None:
        load_story(example.story)  # a clear error for a broken story file, before anything is copied
        story_dir.mkdir(parents=True, exist_ok=True)
        _copy_if_changed(example.story, story_dir / "story.json")
        result = api.render(story_dir, video, on_event=listen, **example.settings)
    elif example.text is not None:
        read_user_text(example.text)
        result = api.make(out=video, from_file=example.text, story_dir=story_dir, on_event=listen,
                          **example.settings)
    else:
        result = api.make(example.prompt, out=video, story_dir=story_dir, on_event=listen, **example.settings)

    timeline = result.timeline
    first = timeline.scenes[0]
    poster = folder / "poster.jpg"
    _poster(video, first.start + first.duration / 2, poster)
    storybook = folder / "storybook.html"
    if result.storybook.exists():
        _copy_if_changed(result.storybook, storybook)
    cached = bool(ends) and all(e.cached >= e.total for e in ends)
    shown = {k: v for k, v in example.settings.items() if k != "music"}
    if "music" in example.settings:
        shown["music"] = Path(example.settings["music"]).name
    text_preview = _preview(example.text.read_text(encoding="utf-8-sig")) if example.text else None
    return GalleryStory(
        name=example.name, source=example.path, title=example.title or result.story.title,
        seconds=time.perf_counter() - t0, cached=cached, duration=result.duration, video=video,
        vtt=result.vtt, srt=result.srt, poster=poster, storybook=storybook if storybook.exists() else None,
        width=timeline.width, height=timeline.height, scenes=len(result.story.scenes),
        speakers=len(result.story.speakers), prompt=example.prompt, text_preview=text_preview, options=shown,
        credits=tuple(timeline.credits))


# ---------------------------------------------------------------- the whole gallery
def build_gallery(examples_dir: Path, out_dir: Path, *, only: list[str] | None = None,
                  on_story: Callable[[GalleryStory], None] | None = None,
                  trust_config: bool = False) -> GalleryResult:
    """Render every example of examples_dir (or those named in only) and write out_dir/index.html.

    A broken example is reported (in the result, to on_story, and on the page) and the others still build.
    trust_config: treat the example files (and a storymode.toml in the current folder) as the user's own.
    """
    from ..config import trusting

    with trusting(trust_config):
        return _build_gallery(examples_dir, out_dir, only, on_story)


def _build_gallery(examples_dir: Path, out_dir: Path, only: list[str] | None,
                   on_story: Callable[[GalleryStory], None] | None) -> GalleryResult:
    t0 = time.perf_counter()
    examples_dir, out_dir = Path(examples_dir), Path(out_dir)
    files = find_examples(examples_dir)
    if only:
        names = {p.stem: p for p in files}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise UsageError(f"no example named {', '.join(map(repr, unknown))} in {examples_dir}; "
                             f"examples: {', '.join(names)}")
        files = [names[n] for n in dict.fromkeys(only)]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot make the output folder {out_dir}: {err.strerror or err}") from None
    stories: list[GalleryStory] = []
    for path in files:
        s0 = time.perf_counter()
        try:
            story = build_story(load_example(path), out_dir)
        except StorymodeError as err:
            story = GalleryStory(name=path.stem, source=path, seconds=time.perf_counter() - s0, error=str(err),
                                 exit_code=err.exit_code)
        except Exception as err:  # noqa: BLE001 - one broken story must not stop the gallery
            story = GalleryStory(name=path.stem, source=path, seconds=time.perf_counter() - s0,
                                 error=f"unexpected {type(err).__name__}: {err}", exit_code=1)
        stories.append(story)
        if on_story is not None:
            on_story(story)
    seconds = time.perf_counter() - t0
    index = write_index(stories, out_dir, seconds)
    return GalleryResult(out_dir=out_dir, index=index, stories=stories, seconds=time.perf_counter() - t0)
