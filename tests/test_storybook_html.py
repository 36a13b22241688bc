"""The storybook web page: self-contained, escaped, and it plays in a real headless Chromium."""
from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest

import storymode
from storymode import compose
from storymode.outputs.storybook_page import write_storybook
from storymode.story import load_story
from storymode.timeline import Timeline

from .conftest import decode_audio, open_page

HOSTILE = "<script>alert(1)</script>"
HOSTILE_2 = "</script><b>x"
HOSTILE_TITLE = "The </title><script>alert(2)</script> {pages} & Fox"


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real two-scene story's page, and a page for the same story with hostile text in it."""
    tmp = tmp_path_factory.mktemp("storybook")
    result = storymode.make("a fox", out=tmp / "f.mp4", scenes=2, resolution="480p")
    timeline = Timeline.model_validate_json((result.story_dir / "build" / "timeline.json").read_text())
    page = write_storybook(result.story, timeline, tmp / "storybook.html")

    story = json.loads((result.story_dir / "story.json").read_text())
    story["title"] = HOSTILE_TITLE
    story["scenes"][0]["lines"][0]["text"] = f"Look: {HOSTILE} and {HOSTILE_2} said the fox."
    hostile_dir = tmp / "hostile.storymode"
    hostile_dir.mkdir()
    (hostile_dir / "story.json").write_text(json.dumps(story), encoding="utf-8")
    hostile_timeline = compose(hostile_dir, out=tmp / "h.mp4", resolution="480p")
    hostile = write_storybook(load_story(hostile_dir / "story.json"), hostile_timeline, tmp / "hostile.html")
    return {"tmp": tmp, "page": page, "story": result.story, "timeline": timeline, "hostile": hostile}


def _data(html_text: str) -> dict:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', html_text, re.S)
    assert m
    return json.loads(m.group(1))


def test_page_is_self_contained(books: dict) -> None:
    text = books["page"].read_text(encoding="utf-8")
    story, timeline = books["story"], books["timeline"]
    assert '<h1 id="title">' in text and story.title.split()[0] in text
    assert text.count('<section class="page"') == len(story.scenes) == len(timeline.scenes)
    assert text.count('src="data:image/jpeg;base64,') == len(story.scenes)
    assert text.count('src="data:audio/mpeg;base64,') == len(story.scenes)
    assert "OpenMoji" in text and "CC BY-SA 4.0" in text
    for credit in timeline.credits:
        assert credit.split("(")[0].strip() in text
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text), "the page must not load anything from the net"
    assert "@import" not in text and "url(http" not in text
    data = _data(text)
    assert len(data["pages"]) == len(story.scenes)
    for page in data["pages"]:
        assert page["words"], "every page has timed words"
        starts = [w[0] for w in page["words"]]
        assert starts == sorted(starts) and starts[0] >= 0


def test_scene_audio_matches_word_times(books: dict) -> None:
    text = books["page"].read_text(encoding="utf-8")
    data = _data(text)
    clips = re.findall(r'src="data:audio/mpeg;base64,([^"]+)"', text)
    for n, (clip, page) in enumerate(zip(clips, data["pages"])):
        mp3 = books["tmp"] / f"scene{n}.mp3"
        mp3.write_bytes(base64.b64decode(clip))
        samples = decode_audio(mp3, rate=16000)
        duration = len(samples) / 16000
        last_end = page["words"][-1][1]
        assert last_end - 0.5 < duration < last_end + 2.0
        first = page["words"][0][0]
        assert first < 1.0, "the audio starts just before the first word"
        i0, i1 = int(first * 16000), int(min(duration, page["words"][-1][1]) * 16000)
        assert abs(samples[i0:i1]).max() > 0.05, "speech is heard while the words are lit"


def test_hostile_text_is_escaped(books: dict) -> None:
    text = books["hostile"].read_text(encoding="utf-8")
    assert HOSTILE not in text and HOSTILE_2 not in text and "</title><script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert len(re.findall(r"<script", text)) == 2, "only the page's own two script elements"
    assert "<title>The &lt;/title&gt;&lt;script&gt;alert(2)&lt;/script&gt; {pages} &amp; Fox</title>" in text
    _data(text)  # the data block still parses


# ---------------------------------------------------------------- in a real browser
def _open(browser, path: Path):
    return open_page(browser, path.resolve().as_uri(), 1100, 900)


def test_page_plays_highlights_and_turns(browser, books: dict) -> None:
    page, events = _open(browser, books["page"])
    assert page.inner_text("#title") == books["story"].title
    assert page.is_visible("#page-1") and not page.is_visible("#page-2")
    assert page.evaluate("document.querySelector('#page-1 img').naturalWidth") > 0
    page.click("#play")
    page.wait_for_function("document.querySelector('#page-1 audio').currentTime > 0.3", timeout=10_000)
    assert page.evaluate("document.querySelector('#page-1 audio').duration") > 0
    page.wait_for_selector("#page-1 .w.hl", timeout=5_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(books["tmp"] / "storybook.png"))
    shutil.copy(books["tmp"] / "storybook.png", "/tmp/storybook-shot.png")
    page.click("#next")
    assert page.is_visible("#page-2") and not page.is_visible("#page-1")
    assert page.inner_text("#count").replace(" ", "") == f"2/{len(books['story'].scenes)}"
    assert page.evaluate("document.querySelector('#page-1 audio').paused")
    page.wait_for_function("document.querySelector('#page-2 audio').currentTime > 0.3", timeout=10_000)
    page.keyboard.press("ArrowLeft")
    assert page.is_visible("#page-1") and not page.is_visible("#page-2")
    page.click("#play")  # reading continued on the turned page: this pauses it
    assert page.evaluate("document.querySelector('#page-1 audio').paused")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#page-2")
    assert page.evaluate("document.querySelector('#page-2 img').naturalWidth") > 0
    assert events["errors"] == [] and events["dialogs"] == []
    page.close()


def test_hostile_text_shows_literally(browser, books: dict) -> None:
    page, events = _open(browser, books["hostile"])
    page.wait_for_timeout(300)
    shown = page.inner_text("#page-1 .text")
    assert HOSTILE in shown and HOSTILE_2 in shown
    assert page.inner_text("#title") == HOSTILE_TITLE
    assert page.title() == HOSTILE_TITLE
    assert page.query_selector("main b") is None and page.query_selector("main script") is None
    page.click("#play")
    page.wait_for_function("document.querySelector('#page-1 audio').currentTime > 0.3", timeout=10_000)
    assert events["errors"] == [] and events["dialogs"] == []
    page.close()
