"""The example gallery: every examples/*.toml rendered into a static web page that works from file://.

    storymode gallery examples/ -o site        (or: python examples/build_gallery.py -o site)

An example file is TOML: an optional ``title`` (shown on the page), one of ``prompt``, ``text`` (a .txt/.md file
beside it, narrated word for word) or ``story`` (a prepared story.json beside it, copied into the story folder;
a ``prompt`` may stay as its description), and any setting of ``storymode make`` (scenes, aspect, resolution,
seed, audience, tone, style, words_per_scene, fps, music, writer/narrator/illustrator/composer, [options.STAGE]).
Paths (text, story, music) are relative to the example file and stay in its folder: an example is data, and only
``--trust-config`` lets it name a file elsewhere, turn on trust_remote_code or send a key to its base_url (SECURITY.md).

What it writes:

    out_dir/index.html                        the gallery page (relative links only, no external assets)
    out_dir/stories/<name>/<name>.mp4         the video (+ .srt, .vtt)
    out_dir/stories/<name>/<name>.storymode/  its story folder: the cache, so a rebuild redoes only what changed
    out_dir/stories/<name>/storybook.html     a copy of the story's picture-book page
    out_dir/stories/<name>/poster.jpg         a frame from the middle of scene 1

Captions: the page's <track> carries the WebVTT as a data: URL, because Chromium refuses a <track src> from a
file:// page ("file: URLs are treated as unique security origins"); the .vtt and .srt files are linked too.
"""
from __future__ import annotations

import base64
import functools
import html
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..guard import guarded
from ..errors import StorymodeError, UsageError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EXAMPLE_KEYS = ("title", "prompt", "text", "story")
PREVIEW_CHARS = 320
POSTER_WIDTH = 640


@dataclass
class Example:
    """One validated example file."""

    name: str
    path: Path
    title: str | None
    prompt: str | None
    text: Path | None
    story: Path | None
    settings: dict[str, Any]


@dataclass
class GalleryStory:
    """One story of the gallery, as built (or the error that stopped it)."""

    name: str
    source: Path
    title: str = ""
    seconds: float = 0.0
    cached: bool = False
    duration: float = 0.0
    video: Path | None = None
    vtt: Path | None = None
    srt: Path | None = None
    poster: Path | None = None
    storybook: Path | None = None
    width: int = 0
    height: int = 0
    scenes: int = 0
    speakers: int = 0
    prompt: str | None = None
    text_preview: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class GalleryResult:
    """What a gallery build did."""

    out_dir: Path
    index: Path
    stories: list[GalleryStory]
    seconds: float

    @property
    def built(self) -> list[GalleryStory]:
        return [s for s in self.stories if s.ok]

    @property
    def failed(self) -> list[GalleryStory]:
        return [s for s in self.stories if not s.ok]

    @property
    def all_cached(self) -> bool:
        return all(s.cached for s in self.built)


# ---------------------------------------------------------------- reading examples
@functools.lru_cache(maxsize=1)
def _example_model() -> Any:
    from pydantic import ConfigDict, Field

    from ..config import Settings

    class ExampleFile(Settings):
        """An example: the request (title, prompt | text | story) plus any Settings field."""

        model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

        title: str | None = Field(None, min_length=1, max_length=200)
        prompt: str | None = Field(None, min_length=1, max_length=100_000)
        text: str | None = Field(None, min_length=1, max_length=1000)
        story: str | None = Field(None, min_length=1, max_length=1000)

    return ExampleFile


EXAMPLE_HINT = "an example file cannot do that; pass --trust-config if you trust this example"


def _beside(example: Path, value: str, key: str, trusted: bool) -> Path:
    """The file an example names (relative to the example); one outside the example's folder needs trust."""
    from ..config import as_toml, leaves_folder, refuse

    if not trusted and leaves_folder(value, example.parent):
        raise refuse(str(example), f"{key} = {as_toml(value)}", f"names a file outside the example's folder "
                     f"({example.parent})", EXAMPLE_HINT)
    path = (example.parent / value).expanduser()
    if not path.is_file():
        raise UsageError(f"{example}: {key} = {value!r}: no such file ({path})")
    return path.resolve()


def load_example(path: Path, *, trusted: bool = False) -> Example:
    """Read and validate one example file; UsageError names the file and the key at fault.

    An example is data (SECURITY.md): unless trusted (--trust-config), it may not name files outside its folder,
    turn on trust_remote_code or send an API key to its own base_url.
    """
    from pydantic import ValidationError

    from ..config import check_untrusted, describe_error, load_toml, trusted_now

    path = Path(path)
    name = path.stem
    if not NAME.match(name):
        raise UsageError(f"{path}: the file name {name!r} cannot name a story; use letters, digits, '.', '_' or '-'")
    data = load_toml(path)
    model = _example_model()
    try:
        parsed = model.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(file)"
            if e["type"] == "extra_forbidden":
                from ..config import Settings

                problems.append(f"unknown key {where!r}; keys are {', '.join(EXAMPLE_KEYS)} and the settings "
                                f"{', '.join(sorted(Settings.model_fields))}")
            else:
                problems.append(describe_error(e))
        raise UsageError(f"{path}: " + "; ".join(problems)) from None
    trusted = trusted or trusted_now()
    if not trusted:
        check_untrusted(data, str(path), path.parent, parsed, hint=EXAMPLE_HINT)
    if parsed.text and (parsed.prompt or parsed.story):
        raise UsageError(f"{path}: give `text` alone (the text is the story), not with `prompt` or `story`")
    if not (parsed.prompt or parsed.text or parsed.story):
        raise UsageError(f"{path}: say what the story is: a `prompt`, a `text` file or a `story` file")
    settings = {k: v for k, v in data.items() if k not in EXAMPLE_KEYS}
    if parsed.music:
        settings["music"] = str(_beside(path, parsed.music, "music", trusted))
    return Example(name=name, path=path, title=parsed.title, prompt=parsed.prompt,
                   text=_beside(path, parsed.text, "text", trusted) if parsed.text else None,
                   story=_beside(path, parsed.story, "story", trusted) if parsed.story else None, settings=settings)


def find_examples(examples_dir: Path) -> list[Path]:
    """The example files of a folder (*.toml), by name."""
    examples_dir = Path(examples_dir)
    if not examples_dir.is_dir():
        raise UsageError(f"{examples_dir}: no such folder")
    files = sorted(p for p in examples_dir.glob("*.toml") if p.is_file())
    if not files:
        raise UsageError(f"{examples_dir} has no example files (*.toml)")
    return files


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
    from ..config import resolve_settings
    from ..events import Event
    from ..pipeline import read_user_text, run
    from ..story import load_story
    from ..timeline import Timeline
    from .. import api

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
        settings = resolve_settings(example.settings)
        result = run(None, video, settings, story_dir=story_dir, emit=listen)
    elif example.text is not None:
        read_user_text(example.text)
        result = api.make(out=video, from_file=example.text, story_dir=story_dir, on_event=listen,
                          **example.settings)
    else:
        result = api.make(example.prompt, out=video, story_dir=story_dir, on_event=listen, **example.settings)

    timeline = Timeline.model_validate_json((story_dir / "build" / "timeline.json").read_text(encoding="utf-8"))
    first = timeline.scenes[0]
    poster = folder / "poster.jpg"
    _poster(video, first.start + first.duration / 2, poster)
    storybook = folder / "storybook.html"
    if result.storybook and Path(result.storybook).exists():
        _copy_if_changed(Path(result.storybook), storybook)
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
        speakers=len(result.story.speakers), prompt=example.prompt, text_preview=text_preview, options=shown)


# ---------------------------------------------------------------- the page
CSS = """
:root{color-scheme:light dark;--bg:#faf7f0;--fg:#222;--card:#fff;--muted:#666;--accent:#b4532a}
@media (prefers-color-scheme:dark){:root{--bg:#1c1b19;--fg:#eee;--card:#2a2825;--muted:#aaa;--accent:#f0a070}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;background:var(--bg);
color:var(--fg)}
header,footer{max-width:1200px;margin:0 auto;padding:24px 20px 8px}
header h1{margin:0 0 4px;font-size:30px}header p{margin:0;color:var(--muted)}
main{max-width:1200px;margin:0 auto;padding:12px 20px;display:grid;gap:20px;
grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
.story{background:var(--card);border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.15);padding:14px;display:flex;
flex-direction:column;gap:8px;min-width:0}
.story video{width:100%;max-height:420px;background:#000;border-radius:8px;display:block}
.story h2{margin:4px 0 0;font-size:19px;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:14px;margin:0}
.prompt{margin:0;padding:6px 10px;border-left:3px solid var(--accent);font-style:italic;overflow-wrap:anywhere}
.options{display:flex;flex-wrap:wrap;gap:4px;margin:0;padding:0;list-style:none;font-size:13px}
.options li{background:rgba(128,128,128,.15);border-radius:6px;padding:1px 7px;overflow-wrap:anywhere}
.links{display:flex;flex-wrap:wrap;gap:12px;font-size:14px}.links a{color:var(--accent)}
.links a.book{font-weight:600}
.failed{border:2px solid #c33}.failed pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px}
footer{color:var(--muted);font-size:13px;padding-bottom:32px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _href(path: Path, base: Path) -> str:
    """A relative, percent-encoded link from the index to path."""
    from urllib.parse import quote

    return quote(path.relative_to(base).as_posix())


def _length(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _option_text(key: str, value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{stage}.{k}={v}" for stage, values in value.items() for k, v in values.items())
    return f"{key} = {value}"


def _card(story: GalleryStory, out_dir: Path) -> str:
    if not story.ok:
        return (f'<article class="story failed" id="story-{_e(story.name)}"><h2>{_e(story.name)}</h2>'
                f'<p class="meta">{_e(story.source.name)} was not built:</p><pre>{_e(story.error)}</pre></article>')
    assert story.video and story.poster and story.vtt
    vtt = base64.b64encode(story.vtt.read_bytes()).decode("ascii")
    ratio = story.width / max(1, story.height)
    aspect = next((name for name, r in (("16:9", 16 / 9), ("9:16", 9 / 16), ("1:1", 1.0)) if abs(ratio / r - 1) < 0.02),
                  f"{story.width}:{story.height}")
    meta = (f"{_length(story.duration)} · {story.scenes} scene{'s' * (story.scenes != 1)} · {story.width}×"
            f"{story.height} ({aspect}) · {story.speakers} voice{'s' * (story.speakers != 1)}")
    request = (f'<p class="prompt"><span class="label">Prompt:</span> {_e(story.prompt)}</p>' if story.prompt and
               not story.text_preview else "")
    if story.text_preview:
        request = f'<p class="prompt"><span class="label">Text:</span> {_e(story.text_preview)}</p>'
    options = "".join(f"<li>{_e(_option_text(k, v))}</li>" for k, v in sorted(story.options.items()))
    links = [f'<a class="book" href="{_href(story.storybook, out_dir)}">Storybook page</a>'] if story.storybook else []
    links += [f'<a href="{_href(story.video, out_dir)}" download>MP4</a>',
              f'<a href="{_href(story.vtt, out_dir)}">VTT</a>']
    if story.srt:
        links.append(f'<a href="{_href(story.srt, out_dir)}">SRT</a>')
    links.append(f'<span class="meta">from {_e(story.source.name)}</span>')
    return (f'<article class="story" id="story-{_e(story.name)}">'
            f'<video controls preload="metadata" playsinline poster="{_href(story.poster, out_dir)}" '
            f'aria-label="{_e(story.title)}">'
            f'<source src="{_href(story.video, out_dir)}" type="video/mp4">'
            f'<track kind="captions" src="data:text/vtt;base64,{vtt}" srclang="en" label="English" default>'
            f'</video><h2>{_e(story.title)}</h2><p class="meta">{_e(meta)}</p>{request}'
            f'<ul class="options">{options}</ul><p class="links">{" ".join(links)}</p></article>')


def write_index(stories: list[GalleryStory], out_dir: Path, seconds: float) -> Path:
    """out_dir/index.html for these stories (escaped text, relative links, inline CSS, no scripts)."""
    from .. import __version__

    built = [s for s in stories if s.ok]
    total = sum(s.duration for s in built)
    cards = "\n".join(_card(s, out_dir) for s in stories)
    cached = sum(s.cached for s in built)
    cached_note = f" ({cached} of {len(built)} stories from the cache)" if cached else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="storymode {_e(__version__)}">
<title>storymode gallery</title>
<style>{CSS}</style></head>
<body><header><h1>storymode gallery</h1>
<p>{len(built)} stories, {_length(total)} of video, made offline from a prompt or a text with storymode.
Every video has captions (CC); each storybook page reads its story aloud, word by word.</p></header>
<main>
{cards}
</main>
<footer><p>Rebuild: <code>storymode gallery examples/ -o site</code> (or <code>python examples/build_gallery.py
-o site</code>). This build took {seconds:.0f} s{cached_note} with storymode {_e(__version__)}.</p>
<p>Illustrations use OpenMoji (openmoji.org), CC BY-SA 4.0. Narration: hibari-tts. The music bed (lullaby.ogg) was
made by the storymode project from sine waves. Fonts: DejaVu Sans.</p></footer>
</body></html>
"""
    index = out_dir / "index.html"
    tmp = out_dir / ".index.html.part"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index


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


def _print_story(story: GalleryStory) -> None:
    if story.ok:
        state = "cached" if story.cached else "built "
        click.echo(f"  {story.name:<20} {state} {story.seconds:6.1f} s   {_length(story.duration)} video  "
                   f"{story.title}")
    else:
        click.echo(f"  {story.name:<20} FAILED {story.seconds:6.1f} s   {story.error}", err=True)


@click.command("gallery")
@click.argument("examples_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
              default=Path("site"), show_default=True, help="Folder for the site (index.html, stories/).")
@click.option("--only", multiple=True, metavar="NAME", help="Build only this example (file name without .toml; "
              "repeatable). The page then lists only these.")
@click.option("-q", "--quiet", is_flag=True, help="No per-story progress, only errors.")
@click.option("--trust-config", "trust_config", is_flag=True,
              help="Treat the example files (and ./storymode.toml) as your own: let them name files outside their "
                   "folder, turn on trust_remote_code or send an API key to their base_url (see SECURITY.md).")
@guarded
def gallery(examples_dir: Path, out_dir: Path, only: tuple[str, ...], quiet: bool, trust_config: bool) -> None:
    """Render every example in EXAMPLES_DIR (cached) into a static web gallery at OUT/index.html."""
    if not quiet:
        click.echo(f"building the gallery of {examples_dir} into {out_dir}/")
    result = build_gallery(examples_dir, out_dir, only=list(only) or None,
                           on_story=None if quiet else _print_story, trust_config=trust_config)
    failed = result.failed
    if quiet:
        for story in failed:
            _print_story(story)
    if not quiet:
        cached = sum(s.cached for s in result.built)
        click.echo(f"{len(result.built)} stories ({cached} cached), {len(failed)} failed, in "
                   f"{result.seconds:.1f} s -> {result.index}")
    if failed:
        message = f"{len(failed)} example(s) failed: {', '.join(s.name for s in failed)} (the others were built)"
        if all(s.exit_code == 2 for s in failed):
            raise UsageError(message)
        raise StorymodeError(message)


__all__ = ["build_gallery", "load_example", "find_examples", "write_index", "gallery", "GalleryResult",
           "GalleryStory", "Example"]
