"""The gallery's static index.html: one card per story, relative links only, no external assets."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any


from ..timeline import ASPECTS
from .stories import GalleryStory


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
    aspect = next((name for name, (w, h) in ASPECTS.items() if abs(ratio / (w / h) - 1) < 0.02),
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
    # what the stories' own end cards credit (the backends that made them), each line once
    credits = "<br>".join(_e(line) for line in dict.fromkeys(c for s in built for c in s.credits))
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
<p>{credits}</p>
<p>The music bed (lullaby.ogg) was made by the storymode project from sine waves. Fonts: DejaVu Sans.</p></footer>
</body></html>
"""
    index = out_dir / "index.html"
    tmp = out_dir / ".index.html.part"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index
