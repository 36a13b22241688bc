"""storymode studio in a real browser: the system chromium (Playwright) on a real `storymode studio` process over a
folder of stories. What the page did is read back from the folder (story.json, narration, pictures) and from the
files it links (pictures and captions, decoded)."""
from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

from .conftest import open_page, vtt_cues, wait_until  # noqa: E402
from .test_studio_http import HOSTILE, Studio, story_json  # noqa: E402

pytestmark = pytest.mark.slow  # each test drives a browser over a studio that makes or narrates a story

MADE = "made"  # the module's story, made once through the studio; tests work on copies of it
CONFLICT_WORDS = ("changed in another tab", "reload")


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """One studio process over an empty folder of stories."""
    root = tmp_path_factory.mktemp("studio-browser") / "stories"
    root.mkdir()
    server = Studio(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def made(studio: Studio) -> Path:
    """A small story (2 scenes, 480p, written, narrated and drawn) made once through the studio's own route."""
    r = studio.post("/api/stories", {"prompt": "a fox",
                                     "settings": {"scenes": 2, "resolution": "480p"}})
    assert r.status_code == 202, r.text
    story_id = r.json()["id"]
    job = studio.wait_job(story_id, timeout=300)
    assert job["status"] == "done", job["error"]
    shutil.move(studio.root / f"{story_id}.storymode", studio.root.parent / f"{MADE}.storymode")
    return studio.root.parent / f"{MADE}.storymode"


def copy_of(studio: Studio, made: Path, story_id: str, *, title: str | None = None) -> Path:
    """A copy of the made story in the studio's folder as story_id, its title changed when given."""
    folder = studio.root / f"{story_id}.storymode"
    shutil.copytree(made, folder)
    if title is not None:
        data = story_json(folder)
        data["title"] = title
        (folder / "story.json").write_text(json.dumps(data, indent=2))
    return folder


class Tab:
    """A browser page on the studio with what went wrong on it: console errors and page errors, dialogs, and any
    request beyond the studio (open_page records every http request; the studio's own are expected)."""

    def __init__(self, browser: Any, studio: Studio, path: str, width: int = 1200, height: int = 1000) -> None:
        self.studio = studio
        self.allowed: tuple[str, ...] = ()  # console messages this page is expected to log
        self.page, self.events = open_page(browser, studio.url + path, width, height)

    def errors(self) -> list[str]:
        """What went wrong on the page, leaving out the studio's own requests and the messages allowed."""
        return [e for e in self.events["errors"]
                if not e.startswith(self.studio.url + "/") and not any(a in e for a in self.allowed)]

    def close(self) -> None:
        """Close the page."""
        self.page.close()


@pytest.fixture
def tabs(browser: Any, studio: Studio) -> Iterator[Callable[..., Tab]]:
    """open(path) -> Tab; every page is closed after the test, which fails if a page had an error or a dialog."""
    opened: list[Tab] = []

    def open_tab(path: str, **size: int) -> Tab:
        tab = Tab(browser, studio, path, **size)
        opened.append(tab)
        return tab

    yield open_tab
    problems = [(tab.page.url, tab.errors(), tab.events["dialogs"]) for tab in opened]
    for tab in opened:
        tab.close()
    for url, errors, dialogs in problems:
        assert not errors, f"{url}: {errors}"
        assert not dialogs, f"{url}: a dialog opened: {dialogs}"


# ---------------------------------------------------------------- helpers
def expect() -> Any:
    """Playwright's expect (imported here: without Playwright the browser fixture skips, or fails under CI)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def natural_width(img: Any) -> int:
    """The decoded width of an <img> (0 until it is loaded and decoded)."""
    return img.evaluate("i => i.complete ? i.naturalWidth : 0")


def decoded(studio: Studio, url: str) -> Any:
    """The picture at url on the studio, fetched and decoded to an RGB array."""
    import numpy as np
    from PIL import Image

    r = studio.client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", (url, r.status_code)
    return np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))


def narration_files(folder: Path) -> dict[str, bytes]:
    """The folder's narration WAVs: name -> bytes."""
    return {p.name: p.read_bytes() for p in (folder / "narration").glob("*.wav")}


def focused_is(locator: Any) -> bool:
    """Whether the locator's element has the focus."""
    return bool(locator.evaluate("e => e === document.activeElement"))


def focus_ring(page: Any) -> tuple[str, str]:
    """The focused element's computed outline style and box shadow."""
    return tuple(page.evaluate("() => { const s = getComputedStyle(document.activeElement); "
                               "return [s.outlineStyle + ' ' + s.outlineWidth, s.boxShadow]; }"))


def tab_to(page: Any, locator: Any, most: int = 80) -> None:
    """Press Tab until the locator's element has the focus."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if focused_is(locator):
            return
    raise AssertionError(f"Tab never reached {locator}")


def save_line(page: Any, box: Any, text: str) -> None:
    """Type text into a line's box as a user does (select all, type), then leave it with Tab: it is saved."""
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Tab")
    expect()(page.locator("#status")).to_have_text("Saved.", timeout=30_000)


# ---------------------------------------------------------------- 1. a new story from the library's form
def test_a_prompt_typed_in_the_library_becomes_a_board_with_drawn_scenes(studio: Studio,
                                                                         tabs: Callable[..., Tab]) -> None:
    tab = tabs("/")
    page = tab.page
    page.locator("#prompt").fill("a little owl who is afraid of the dark")
    page.locator("#new-story details summary").click()
    page.locator("#set-scenes").fill("2")
    page.locator("#set-resolution").select_option("480p")
    page.locator("#make").click()
    expect()(page.locator("#progress")).to_be_visible(timeout=30_000)
    expect()(page.locator("#progress .stages li").first).to_be_visible(timeout=120_000)
    page.wait_for_url(f"{studio.url}/s/**", timeout=280_000)
    story_id = page.url.rsplit("/", 1)[1]
    folder = studio.root / f"{story_id}.storymode"
    assert len(story_json(folder)["scenes"]) == 2
    cards = page.locator("li.scene")
    expect()(cards).to_have_count(2)
    for n in range(2):
        img = cards.nth(n).locator("img[data-picture]")
        wait_until(lambda img=img: natural_width(img) > 0, timeout=30, what=f"scene {n + 1}'s picture to decode")
    assert decoded(studio, cards.nth(0).locator("img[data-picture]").get_attribute("src")).shape[0] >= 480


# ---------------------------------------------------------------- 2. edit a line, hear it
def test_a_line_edited_in_place_is_saved_and_only_it_is_narrated_again(studio: Studio, made: Path,
                                                                       tabs: Callable[..., Tab]) -> None:
    folder = copy_of(studio, made, "hear")
    tab = tabs("/s/hear")
    page = tab.page
    line = page.locator('[data-scene="s001"] [data-line="0"]')
    save_line(page, line.locator('textarea[data-field="text"]'), "The fox hummed a song for the moon.")
    assert story_json(folder)["scenes"][0]["lines"][0]["text"] == "The fox hummed a song for the moon."
    assert line.get_attribute("data-unnarrated") is not None
    before = narration_files(folder)
    with page.expect_response(lambda r: r.url.endswith("/s/hear/play"), timeout=120_000) as played:
        line.locator('[data-action="play-line"]').click()
    assert played.value.status == 200, played.value.text()
    served = played.value.json()["url"].rsplit("/", 1)[1]
    expect()(line).not_to_have_attribute("data-unnarrated", "", timeout=30_000)
    after = narration_files(folder)
    assert set(after) - set(before) == {served}, "exactly one new narration: the edited line's"
    assert all(after.get(name) == data for name, data in before.items()), "no other narration was made again"
    assert served not in before
    wav = studio.client.get(f"/s/hear/narration/{served}")
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    assert "did not play" not in page.locator("#status").inner_text()


# ---------------------------------------------------------------- 3. redraw, pick
def test_redraw_offers_four_different_pictures_and_the_picked_one_becomes_the_scenes(studio: Studio, made: Path,
                                                                                     tabs: Callable[..., Tab]) -> None:
    import numpy as np

    copy_of(studio, made, "redraw")
    tab = tabs("/s/redraw")
    page = tab.page
    scene = page.locator('[data-scene="s002"]')
    before = decoded(studio, scene.locator("img[data-picture]").get_attribute("src"))
    scene.locator('[data-action="redraw"]').click()
    offered = scene.locator('[data-candidates] button[data-action="pick"] img')
    expect()(offered).to_have_count(4, timeout=120_000)
    urls = []
    for n in range(4):
        img = offered.nth(n)
        wait_until(lambda img=img: natural_width(img) > 0, timeout=30, what=f"candidate {n + 1} to decode")
        urls.append(img.get_attribute("src"))
    boxes = [img.bounding_box() for img in offered.all()]
    assert len({round(b["y"]) for b in boxes}) == 1, f"the candidates are not side by side: {boxes}"
    pictures = [decoded(studio, url) for url in urls]
    for i in range(4):
        assert not np.array_equal(pictures[i], before), f"candidate {i + 1} is the current picture"
        for j in range(i + 1, 4):
            assert not np.array_equal(pictures[i], pictures[j]), f"candidates {i + 1} and {j + 1} are the same"
    with page.expect_navigation(timeout=60_000):
        offered.nth(2).click()
    now = page.locator('[data-scene="s002"] img[data-picture]')
    wait_until(lambda: natural_width(now) > 0, timeout=30, what="the picked picture to decode")
    assert np.array_equal(decoded(studio, now.get_attribute("src")), pictures[2])


# ---------------------------------------------------------------- 4. render, watch
def test_render_gives_a_video_that_plays_with_the_edited_words_in_its_captions(studio: Studio, made: Path,
                                                                                tabs: Callable[..., Tab]) -> None:
    copy_of(studio, made, "watch")
    tab = tabs("/s/watch")
    page = tab.page
    words = "Silver stars danced over the sleepy pond."
    save_line(page, page.locator("#text-s002-0"), words)
    with page.expect_navigation(timeout=280_000):  # the board reloads when the render is done
        page.locator("#render").click()
    video = page.locator("video#video")
    expect()(video).to_be_attached()
    video.evaluate("v => v.play()")
    first = wait_until(lambda: video.evaluate("v => v.currentTime"), timeout=30, what="the video to start")
    wait_until(lambda: video.evaluate("v => v.currentTime") > first + 0.2, timeout=30, what="the video to play on")
    assert video.evaluate("v => !v.paused && v.videoWidth") == 854
    track = video.locator('track[kind="captions"]').get_attribute("src")
    vtt = studio.client.get(track)
    assert vtt.status_code == 200
    said = " ".join(text for _, _, text in vtt_cues(vtt.text))
    assert words in said, said


# ---------------------------------------------------------------- 5. hostile text stays text
def test_a_hostile_title_shows_as_text_and_runs_nothing(studio: Studio, made: Path, tabs: Callable[..., Tab]) -> None:
    copy_of(studio, made, "hostile", title=HOSTILE)
    library = tabs("/")
    card = library.page.locator('li[data-story="hostile"] .card-title')
    expect()(card).to_have_text(HOSTILE)
    assert library.page.locator("script").count() == 1
    board = tabs("/s/hostile")
    expect()(board.page.locator("#story-title")).to_have_value(HOSTILE)
    expect()(board.page.locator("header nav span")).to_have_text(HOSTILE)
    assert HOSTILE in board.page.title()
    assert board.page.locator("script").count() == 1
    assert [s.get_attribute("src") for s in board.page.locator("script").all()] == ["/static/studio.js"]
    # the tabs fixture fails the test if a dialog opened or a script error was logged


# ---------------------------------------------------------------- 6. two tabs
def test_a_second_tab_editing_a_stale_story_is_told_and_its_words_are_kept(studio: Studio, made: Path,
                                                                           tabs: Callable[..., Tab]) -> None:
    folder = copy_of(studio, made, "tabs")
    a, b = tabs("/s/tabs"), tabs("/s/tabs")
    b.allowed = ("status of 409 (Conflict)",)  # the refused save: the browser logs the 409 answer as a failed load
    save_line(a.page, a.page.locator("#text-s001-0"), "Saved in tab A.")
    box = b.page.locator("#text-s001-0")
    box.fill("Typed in tab B.")
    box.press("Tab")
    alert = b.page.locator("#alert")
    expect()(alert).to_be_visible(timeout=30_000)
    message = b.page.locator("#alert-text").inner_text()
    assert all(words in message for words in CONFLICT_WORDS), message
    expect()(b.page.locator("#alert-reload")).to_be_visible()
    expect()(box).to_have_attribute("aria-invalid", "true")
    expect()(box).to_have_value("Typed in tab B.")  # still on the page
    assert story_json(folder)["scenes"][0]["lines"][0]["text"] == "Saved in tab A."
    kept = [json.loads(p.read_text()) for p in (folder / "history" / "rejected").glob("*.json")]
    assert [k["scenes"][0]["lines"][0]["text"] for k in kept] == ["Typed in tab B."]
    with b.page.expect_navigation():
        b.page.locator("#alert-reload").click()
    expect()(box).to_have_value("Saved in tab A.")


# ---------------------------------------------------------------- 7. keyboard only
def test_the_board_works_from_the_keyboard_with_a_visible_focus(studio: Studio, made: Path,
                                                                tabs: Callable[..., Tab]) -> None:
    folder = copy_of(studio, made, "keys")
    order = [s["id"] for s in story_json(folder)["scenes"]]
    tab = tabs("/s/keys")
    page = tab.page
    box = page.locator(f"#text-{order[0]}-0")
    tab_to(page, box)
    outline, shadow = focus_ring(page)
    assert not outline.startswith("none") or shadow != "none", (outline, shadow)
    page.keyboard.press("Control+A")
    page.keyboard.type("Typed without a mouse.")
    page.keyboard.press("Tab")
    expect()(page.locator("#status")).to_have_text("Saved.", timeout=30_000)
    assert story_json(folder)["scenes"][0]["lines"][0]["text"] == "Typed without a mouse."
    down = page.locator(f'[data-scene="{order[0]}"] [data-action="move-down"]')
    tab_to(page, down)
    outline, shadow = focus_ring(page)
    assert not outline.startswith("none") or shadow != "none", (outline, shadow)
    with page.expect_navigation(timeout=30_000):
        page.keyboard.press("Enter")
    assert [s["id"] for s in story_json(folder)["scenes"]] == order[::-1]
    expect()(page.locator("li.scene").first).to_have_attribute("data-scene", order[1])
