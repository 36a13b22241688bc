"""The storybook web page: one self-contained HTML file with pictures, text, narration and word highlighting."""
from __future__ import annotations

import base64
import html
import io
import json
import re
import tempfile
from pathlib import Path

from ..composers.frames import open_picture
from ..story import NARRATOR, Story
from ..timeline import Timeline, TimelineScene
from ..workspace import atomic_write_text
from .base import ExportJob
from .scene_audio import AUDIO_LEAD_S, AUDIO_TAIL_S, write_scene_mp3
# the word helpers under the names this module (and tests/test_limits.py) always used
from .scene_audio import align_words as _align, scene_clips as _scene_clips, spoken_words as _split_words

MAX_PICTURE_SIDE = 1280
JPEG_QUALITY = 85
WORD_HOLD_S = 0.4  # keep a word lit across pauses shorter than this


def _picture_uri(path: str) -> str:
    from PIL import Image

    im = open_picture(path)  # the composer's checks: size read from the header before any pixel is decoded
    im.thumbnail((MAX_PICTURE_SIDE, MAX_PICTURE_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _scene_audio_uri(timeline: Timeline, scene: TimelineScene, start: float, end: float, tmp: Path) -> str:
    """The scene's clips mixed at their offsets from start, encoded as MP3."""
    mp3 = tmp / f"scene{scene.index}.mp3"
    write_scene_mp3(timeline, scene, start, end, mp3)
    return "data:audio/mpeg;base64," + base64.b64encode(mp3.read_bytes()).decode("ascii")


def _page(story: Story, index: int, scene: TimelineScene, timeline: Timeline, tmp: Path,
          number: int) -> tuple[str, dict]:
    """A page's HTML and its script data (audio, word times)."""
    names = {c.id: c.name for c in story.characters}
    story_scene = story.scenes[index]
    tokens: list[str] = []
    paragraphs: list[str] = []
    for line in story_scene.lines:
        spans = []
        for tok in line.text.split():
            spans.append(f'<span class="w" data-i="{len(tokens)}">{html.escape(tok)}</span>')
            tokens.append(tok)
        body = " ".join(spans)
        if line.speaker == NARRATOR:
            paragraphs.append(f'<p class="line">{body}</p>')
        else:
            who = html.escape(names.get(line.speaker, line.speaker))
            paragraphs.append(f'<p class="line speech"><span class="who">{who}</span> \u201c{body}\u201d</p>')
    clips = _scene_clips(timeline, scene)
    cues = [c for c in timeline.cues if scene.start <= c.start < scene.end]
    data: dict = {"words": []}
    audio_html = ""
    if clips:
        a0 = max(scene.start, min(c.start for c in clips) - AUDIO_LEAD_S)
        a1 = max(c.start + c.duration for c in clips) + AUDIO_TAIL_S
        spoken = _split_words([w for c in cues for w in c.words])
        for n, ((_, s, e), tok) in enumerate(zip(spoken, _align(tokens, spoken))):
            nxt = spoken[n + 1][1] if n + 1 < len(spoken) else e + WORD_HOLD_S
            until = nxt if nxt - e <= WORD_HOLD_S else e + 0.1
            if tok >= 0:
                data["words"].append([round(s - a0, 3), round(until - a0, 3), tok])
        audio_html = f'<audio preload="auto" src="{_scene_audio_uri(timeline, scene, a0, a1, tmp)}"></audio>'
    picture = _picture_uri(scene.image)
    alt = html.escape(f"Picture for page {number}")
    page = (f'<section class="page" id="page-{number}"{" hidden" if number > 1 else ""}>'
            f'<figure><img src="{picture}" alt="{alt}"></figure>'
            f'<div class="text">{"".join(paragraphs)}</div>{audio_html}</section>')
    return page, data


def _script_json(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def write_storybook(story: Story, timeline: Timeline, out: Path) -> Path:
    """Write a single self-contained storybook page (works offline from file://) with the timeline's credits;
    returns its path."""
    by_id = {s.id: n for n, s in enumerate(story.scenes)}
    pages, data = [], []
    with tempfile.TemporaryDirectory(prefix="storymode-storybook-") as tmp:
        for scene in timeline.scenes:
            index = by_id.get(scene.scene_id, scene.index)
            if index >= len(story.scenes):
                continue
            page, page_data = _page(story, index, scene, timeline, Path(tmp), len(pages) + 1)
            pages.append(page)
            data.append(page_data)
    values = {"lang": html.escape(story.language or "en"), "title": html.escape(story.title or timeline.title),
              "pages": "\n".join(pages), "count": str(len(pages)),
              "credits": "".join(f"<li>{html.escape(c)}</li>" for c in timeline.credits),
              "data": _script_json({"pages": data}), "script": _SCRIPT}
    # one pass, so text that looks like a placeholder ("{pages}" in a title) is never expanded
    document = re.sub(r"\{(lang|title|pages|count|credits|data|script)\}", lambda m: values[m.group(1)], _TEMPLATE)
    out = Path(out)
    atomic_write_text(out, document)
    return out


_TEMPLATE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
:root { color-scheme: light; --ink: #2d2a26; --paper: #fbf6ec; --accent: #d9692b; --mark: #ffd95a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
       font: 1.3rem/1.6 Georgia, "DejaVu Serif", "Times New Roman", serif; }
header { text-align: center; padding: 1rem 1rem 0; }
h1 { margin: 0; font-size: 2rem; line-height: 1.2; }
main { max-width: 60rem; margin: 0 auto; padding: 0 1rem; }
figure { margin: 1rem 0 0.5rem; text-align: center; }
img { max-width: 100%; max-height: 62vh; border-radius: 14px; box-shadow: 0 6px 24px rgba(60, 40, 10, .25); }
.text { max-width: 44rem; margin: 0 auto; min-height: 6rem; }
.line { margin: 0.6rem 0; white-space: normal; overflow-wrap: anywhere; }
.speech .who { font: bold 0.8em system-ui, "DejaVu Sans", sans-serif; color: var(--accent); margin-right: .3em; }
.w { border-radius: 4px; padding: 0 1px; transition: background-color .08s; cursor: pointer; }
.w.hl { background: var(--mark); box-shadow: 0 0 0 2px var(--mark); }
nav { display: flex; gap: .75rem; justify-content: center; align-items: center; padding: 1rem;
      position: sticky; bottom: 0; background: linear-gradient(transparent, var(--paper) 35%); }
button { font: 600 1rem system-ui, "DejaVu Sans", sans-serif; padding: .6rem 1.1rem; border-radius: 999px;
         border: 2px solid var(--accent); background: #fff; color: var(--ink); cursor: pointer; }
button.primary { background: var(--accent); color: #fff; min-width: 7.5rem; }
button:disabled { opacity: .35; cursor: default; }
button:focus-visible { outline: 3px solid var(--ink); outline-offset: 2px; }
#count { font: 1rem system-ui, "DejaVu Sans", sans-serif; min-width: 4rem; text-align: center; }
footer { max-width: 44rem; margin: 1rem auto 2rem; padding: 0 1rem;
         font: .8rem/1.5 system-ui, "DejaVu Sans", sans-serif; color: #776; }
footer ul { margin: .3rem 0; padding-left: 1.2rem; }
button, #count { white-space: nowrap; }
@media (max-width: 480px) {
  body { font-size: 1.15rem; } h1 { font-size: 1.6rem; }
  nav { gap: .4rem; padding: .75rem .5rem; } button { padding: .55rem .8rem; } button.primary { min-width: 6rem; }
}
</style>
</head>
<body>
<header><h1 id="title">{title}</h1></header>
<main>
{pages}
</main>
<nav aria-label="pages">
<button id="prev" type="button" aria-label="Previous page">&#9664; Back</button>
<button id="play" type="button" class="primary">&#9654; Play</button>
<span id="count" aria-live="polite">1 / {count}</span>
<button id="next" type="button" aria-label="Next page">Next &#9654;</button>
</nav>
<footer><div>Made with storymode. Use the arrow keys to turn pages and the space bar to play.</div>
<ul>{credits}</ul></footer>
<script type="application/json" id="data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

_SCRIPT = r"""
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const pages = Array.from(document.querySelectorAll(".page"));
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  const play = document.getElementById("play"), count = document.getElementById("count");
  let cur = 0, reading = false, lit = null, frame = 0;

  const audio = () => pages[cur].querySelector("audio");
  function light(el) {
    if (lit === el) return;
    if (lit) lit.classList.remove("hl");
    lit = el;
    if (lit) lit.classList.add("hl");
  }
  function tick() {
    const a = audio();
    if (!a) return;
    const t = a.currentTime;
    const w = data.pages[cur].words.find(function (w) { return w[0] <= t && t < w[1]; });
    light(w ? pages[cur].querySelector('.w[data-i="' + w[2] + '"]') : null);
  }
  function loop() { tick(); frame = reading ? requestAnimationFrame(loop) : 0; }
  function setReading(on) {
    reading = on;
    play.innerHTML = on ? "&#10074;&#10074; Pause" : "&#9654; Play";
    if (on && !frame) frame = requestAnimationFrame(loop);
  }
  function start() {
    const a = audio();
    if (!a) { setReading(false); return; }
    setReading(true);
    a.play().catch(function () { setReading(false); });
  }
  function stop() { const a = audio(); if (a) a.pause(); setReading(false); }
  function show(n, keepReading) {
    n = Math.max(0, Math.min(pages.length - 1, n));
    const a = audio();
    if (a) { a.pause(); a.currentTime = 0; }
    light(null);
    cur = n;
    pages.forEach(function (p, i) { p.hidden = i !== cur; });
    count.textContent = (cur + 1) + " / " + pages.length;
    prev.disabled = cur === 0;
    next.disabled = cur === pages.length - 1;
    play.disabled = !audio();
    if (history.replaceState) history.replaceState(null, "", "#" + (cur + 1));
    if (keepReading) start(); else setReading(false);
  }
  pages.forEach(function (page) {
    const a = page.querySelector("audio");
    if (!a) return;
    a.addEventListener("timeupdate", tick);
    a.addEventListener("ended", function () {
      light(null);
      if (cur < pages.length - 1) show(cur + 1, true); else setReading(false);
    });
    page.addEventListener("click", function (e) {
      const el = e.target.closest ? e.target.closest(".w") : null;
      if (!el) return;
      const w = data.pages[cur].words.find(function (w) { return String(w[2]) === el.dataset.i; });
      if (w) { a.currentTime = w[0]; start(); }
    });
  });
  prev.addEventListener("click", function () { show(cur - 1, reading); });
  next.addEventListener("click", function () { show(cur + 1, reading); });
  play.addEventListener("click", function () { if (reading) stop(); else start(); });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowRight" || e.key === "PageDown") show(cur + 1, reading);
    else if (e.key === "ArrowLeft" || e.key === "PageUp") show(cur - 1, reading);
    else if (e.key === "Home") show(0, false);
    else if (e.key === "End") show(pages.length - 1, false);
    else if ((e.key === " " || e.key === "k") && !(e.target instanceof HTMLButtonElement)) {
      if (reading) stop(); else start();
    } else return;
    e.preventDefault();
  });
  const wanted = parseInt((location.hash || "").slice(1), 10);
  show(wanted > 0 ? wanted - 1 : 0, false);
})();
"""


def write_page(job: ExportJob, dest: Path) -> None:
    """The storybook page as an export format (formats.py): the job's story and timeline, written to dest."""
    write_storybook(job.story, job.timeline, dest)
