"""storymode studio over real HTTP: a `storymode studio` process on 127.0.0.1 (a free port) over a folder of
stories, driven with httpx (and http.client where a path must reach the server exactly as written)."""
from __future__ import annotations

import base64
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import wave
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

from .conftest import check_story_video, run_cli, vtt_cues, wait_until

HOSTILE = "<script>alert(1)</script>"
TOKEN = "a-studio-token-of-enough-length"


def studio_command() -> list[str]:
    """`python -m storymode studio`, or the studio's own module while the command is not registered yet."""
    from storymode.cli import cli

    if "studio" in cli.commands:
        return [sys.executable, "-m", "storymode", "studio"]
    return [sys.executable, "-m", "storymode.studio.cli"]


class Studio:
    """One `storymode studio --no-browser --port 0` process over a folder; its URL read from its stdout."""

    def __init__(self, root: Path, *args: str, env: dict | None = None) -> None:
        self.root = root
        self.log = root.parent / f"studio-{root.name}.log"
        self.proc = subprocess.Popen([*studio_command(), "--dir", str(root), "--no-browser", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=open(self.log, "w"),  # noqa: SIM115
                                     env={**os.environ, **(env or {})}, text=True, start_new_session=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), (line, self.log.read_text())
        self.url = line.split("?")[0].rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.client = httpx.Client(base_url=self.url, timeout=60)
        wait_until(self._answers, timeout=60, every=0.2, what="the studio to answer")
        self.csrf = "" if "--token" in args else csrf_of(self.client.get("/").text)
        # what the studio's own pages send with every change
        self.headers = {"Origin": self.url, "X-Studio-CSRF": self.csrf}

    def _answers(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()
        try:
            self.client.get("/static/studio.css")
        except httpx.TransportError:
            return False
        return True

    def post(self, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
        """A POST as the studio's page makes it (its Origin and CSRF token)."""
        return self.client.post(path, json=body if body is not None else {}, headers=self.headers, **kwargs)

    def story(self, story_id: str) -> dict:
        """The story and its version, as the page loads them."""
        r = self.client.get(f"/s/{story_id}/story")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_job(self, story_id: str, timeout: float = 240) -> dict:
        """The story's job once it is no longer running."""
        def finished() -> dict | None:
            job = self.client.get(f"/s/{story_id}/job").json()["job"]
            return job if job and job["status"] != "running" else None

        return wait_until(finished, timeout=timeout, every=0.3, what=f"the job on {story_id} to finish")

    def raw_get(self, path: str) -> tuple[int, bytes]:
        """GET exactly this path (no client normalising '..' or percent escapes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest("GET", path, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()


class Page(HTMLParser):
    """What a test reads from a page: the text of each element by tag, attributes, and the meta tags."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.elements: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in ("meta", "link", "input", "img", "br", "source", "track", "option"):
            self.stack.append((tag, element))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, element in self.stack:
            element["text"] += data

    def find(self, tag: str, **attrs: str) -> list[dict]:
        return [e for e in self.elements if e["tag"] == tag and all(e["attrs"].get(k) == v for k, v in attrs.items())]


def csrf_of(html: str) -> str:
    (meta,) = Page(html).find("meta", name="studio-csrf")
    return meta["attrs"]["content"]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def made(small_story: Path) -> Path:
    """One small story made once through the CLI (2 scenes, 480p): fox.storymode, fox.mp4, .srt, .vtt (the
    session's, copied, never changed here)."""
    return small_story


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, made: Path) -> Iterator[Studio]:
    """A studio over a folder holding a copy of the made story as fox (its video with it)."""
    root = tmp_path_factory.mktemp("studio") / "stories"
    root.mkdir()
    shutil.copytree(made / "fox.storymode", root / "fox.storymode")
    for suffix in (".mp4", ".srt", ".vtt"):
        shutil.copy2(made / f"fox{suffix}", root / f"fox{suffix}")
    server = Studio(root)
    yield server
    server.stop()


def copy_story(studio: Studio, made: Path, story_id: str, *, title: str | None = None) -> Path:
    """A copy of the made story in the studio's folder as story_id (without its video), its title changed."""
    folder = studio.root / f"{story_id}.storymode"
    shutil.copytree(made / "fox.storymode", folder)
    if title is not None:
        path = folder / "story.json"
        data = json.loads(path.read_text())
        data["title"] = title
        path.write_text(json.dumps(data, indent=2))
    return folder


def story_json(folder: Path) -> dict:
    return json.loads((folder / "story.json").read_text())


# ---------------------------------------------------------------- the library and the board
def test_library_lists_a_made_story_with_a_hostile_title_as_text(studio: Studio, made: Path) -> None:
    copy_story(studio, made, "hostile", title=HOSTILE)
    r = studio.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    page = Page(r.text)
    scripts = page.find("script")
    assert [s["attrs"].get("src") for s in scripts] == ["/static/studio.js"]
    assert not any("alert(1)" in s["text"] for s in scripts)
    cards = {e["attrs"]["data-story"]: e for e in page.find("li") if "data-story" in e["attrs"]}
    assert {"fox", "hostile"} <= set(cards)
    assert HOSTILE in cards["hostile"]["text"]  # shown as text, escaped in the HTML
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert cards["fox"]["attrs"]["data-state"] == "rendered"
    assert "0:" in cards["fox"]["text"]  # its length, from the composed timeline
    poster = [e for e in page.find("img") if e["attrs"].get("src", "").startswith("/s/fox/art/")]
    assert poster, "the fox card has no poster"
    picture = studio.client.get(poster[0]["attrs"]["src"])
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    board = studio.client.get("/s/hostile")
    assert board.status_code == 200
    page = Page(board.text)
    assert not any("alert(1)" in s["text"] for s in page.find("script"))
    (title,) = page.find("input", id="story-title")
    assert title["attrs"]["value"] == HOSTILE


def test_the_board_has_a_card_per_scene_with_its_lines_and_controls(studio: Studio, made: Path) -> None:
    story = story_json(made / "fox.storymode")
    page = Page(studio.client.get("/s/fox").text)
    scenes = [e for e in page.find("li") if "data-scene" in e["attrs"]]
    assert [s["attrs"]["data-scene"] for s in scenes] == [s["id"] for s in story["scenes"]]
    texts = [e["text"] for e in page.find("textarea") if e["attrs"].get("data-field") == "text"]
    assert texts == [line["text"] for scene in story["scenes"] for line in scene["lines"]]
    actions = {e["attrs"]["data-action"] for e in page.find("button") if "data-action" in e["attrs"]}
    assert {"redraw", "rewrite", "add-scene", "remove-scene", "move-up", "move-down", "merge", "split", "play-line",
            "add-line", "remove-line", "undo", "preview-voice", "job"} <= actions
    labelled = {e["attrs"].get("for") for e in page.find("label")}
    fields = [e for e in page.elements if e["tag"] in ("textarea", "select") and e["attrs"].get("id")]
    assert all(f["attrs"]["id"] in labelled for f in fields), "every field has a label"
    video = page.find("video")
    assert video and page.find("track", kind="captions")


def test_scene_pictures_and_narration_are_found_as_the_pipeline_keys_them(studio: Studio, made: Path) -> None:
    from storymode import api
    from storymode.studio import library
    from storymode.story import load_story

    folder = copy_story(studio, made, "keys")
    settings = library.story_settings(folder)
    story = load_story(folder / "story.json")
    assert settings.resolution == "480p"  # read from the CLI render's timeline
    assert library.scene_pictures(folder, story, settings) == [Path(p) for p in api.illustrate(folder,
                                                                                                settings=settings)]
    narrated = api.narrate(folder, settings=settings)
    assert library.line_narrations(folder, story, settings) == [[Path(a.path) for a in row] for row in narrated]


# ---------------------------------------------------------------- edits and versions
def test_an_edit_changes_story_json_and_returns_the_new_version(studio: Studio, made: Path) -> None:
    folder = copy_story(studio, made, "edit")
    loaded = studio.story("edit")
    r = studio.post("/s/edit/edit", {"base": loaded["version"], "op": "edit_line",
                                     "args": {"scene_id": "s001", "index": 0, "text": "The fox woke up early."}})
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    assert version != loaded["version"]
    assert story_json(folder)["scenes"][0]["lines"][0]["text"] == "The fox woke up early."
    assert studio.story("edit")["version"] == version
    r = studio.post("/s/edit/edit", {"base": version, "op": "edit_brief",
                                     "args": {"scene_id": "s002", "fields": {"time_of_day": "night"}}})
    assert r.status_code == 200, r.text
    assert story_json(folder)["scenes"][1]["brief"]["time_of_day"] == "night"
    bad = studio.post("/s/edit/edit", {"base": r.json()["version"], "op": "edit_line",
                                       "args": {"scene_id": "nope", "index": 0, "text": "x"}})
    assert bad.status_code == 422 and "no scene 'nope'" in bad.json()["detail"]
    undone = studio.post("/s/edit/undo", {"base": r.json()["version"]})
    assert undone.status_code == 200, undone.text
    assert story_json(folder)["scenes"][1]["brief"]["time_of_day"] != "night"
    notes = [v["note"] for v in studio.client.get("/s/edit/versions").json()["versions"]]
    assert notes[0].startswith("undo") and len(notes) == 4


def test_a_stale_version_is_refused_with_409_and_the_edit_kept(studio: Studio, made: Path) -> None:
    folder = copy_story(studio, made, "stale")
    old = studio.story("stale")["version"]
    first = studio.post("/s/stale/edit", {"base": old, "op": "edit_line",
                                          "args": {"scene_id": "s001", "index": 0, "text": "Saved in tab one."}})
    assert first.status_code == 200
    second = studio.post("/s/stale/edit", {"base": old, "op": "edit_line",
                                           "args": {"scene_id": "s001", "index": 0, "text": "Typed in tab two."}})
    assert second.status_code == 409
    body = second.json()
    assert "changed in another tab or by the CLI" in body["detail"] and "reload" in body["detail"]
    assert body["version"] == first.json()["version"] and body["conflict"] is True
    assert body["rejected"]["args"]["text"] == "Typed in tab two."
    assert story_json(folder)["scenes"][0]["lines"][0]["text"] == "Saved in tab one."
    kept = folder / "history" / "rejected" / body["kept"]
    assert json.loads(kept.read_text())["scenes"][0]["lines"][0]["text"] == "Typed in tab two."


def test_what_the_cli_changed_shows_on_reload(studio: Studio, made: Path) -> None:
    folder = copy_story(studio, made, "outside")
    before = studio.story("outside")["version"]
    data = story_json(folder)
    data["scenes"][0]["lines"][0]["text"] = "Changed by hand, outside the studio."
    (folder / "story.json").write_text(json.dumps(data, indent=2))
    after = studio.story("outside")
    assert after["version"] != before
    assert after["story"]["scenes"][0]["lines"][0]["text"] == "Changed by hand, outside the studio."
    assert "Changed by hand, outside the studio." in studio.client.get("/s/outside").text
    r = studio.post("/s/outside/edit", {"base": before, "op": "remove_scene", "args": {"scene_id": "s002"}})
    assert r.status_code == 409


# ---------------------------------------------------------------- what the studio refuses
def test_a_change_without_the_csrf_token_or_from_another_origin_is_refused(studio: Studio, made: Path) -> None:
    folder = copy_story(studio, made, "csrf")
    before = (folder / "story.json").read_bytes()
    version = studio.story("csrf")["version"]
    body = {"base": version, "op": "edit_title", "args": {"title": "Taken over"}}
    no_header = studio.client.post("/s/csrf/edit", json=body, headers={"Origin": studio.url})
    assert no_header.status_code == 403 and "CSRF" in no_header.json()["detail"]
    foreign = studio.client.post("/s/csrf/edit", json=body,
                                 headers={"Origin": "http://evil.example", "X-Studio-CSRF": studio.csrf})
    assert foreign.status_code == 403 and "Origin" in foreign.json()["detail"]
    no_origin = studio.client.post("/s/csrf/edit", json=body, headers={"X-Studio-CSRF": studio.csrf})
    assert no_origin.status_code == 403
    wrong = studio.client.post("/s/csrf/edit", json=body, headers={"Origin": studio.url, "X-Studio-CSRF": "guess"})
    assert wrong.status_code == 403
    job = studio.client.post("/s/csrf/jobs/render", headers={"Origin": "http://evil.example"})
    assert job.status_code == 403
    rebound = studio.client.get("/", headers={"Host": "evil.example"})
    assert rebound.status_code == 421  # DNS rebinding: no token, so loopback Host names only
    assert (folder / "story.json").read_bytes() == before
    referer = studio.client.post("/s/csrf/edit", json=body,
                                 headers={"Referer": f"{studio.url}/s/csrf", "X-Studio-CSRF": studio.csrf})
    assert referer.status_code == 200, referer.text
    assert story_json(folder)["title"] == "Taken over"


def test_path_like_ids_get_404_and_read_nothing_outside_the_folder(studio: Studio, made: Path) -> None:
    outside = studio.root.parent / "outside.storymode"
    shutil.copytree(made / "fox.storymode", outside)
    data = story_json(outside)
    data["title"] = "SECRET OUTSIDE"
    (outside / "story.json").write_text(json.dumps(data))
    (studio.root.parent / "outside.mp4").write_bytes(b"SECRET OUTSIDE")
    paths = ["/s/..", "/s/%2e%2e", "/s/%2e%2e/story", "/s/..%2Foutside/story", "/s/%2e%2e%2foutside/story",
             "/s/..%2f..%2fetc%2fpasswd", "/s//etc/passwd", "/s/%2Fetc%2Fpasswd/story", "/s/%2e%2e/files/video",
             "/s/fox/files/exports/..%2f..%2f..%2foutside.mp4", "/s/fox/files/exports/%2e%2e",
             "/s/fox/narration/..%2fstory.json", "/s/fox/art/..%2f..%2foutside", "/s/.%2e/events",
             f"/s/{'%2e%2e%2f' * 3}outside.storymode/story", "/s/fox.storymode/story",
             "/s/" + str(outside).replace("/", "%2F")]
    for path in paths:
        status, content = studio.raw_get(path)
        assert status in (404, 422), (path, status)
        assert b"SECRET" not in content and b"root:" not in content, path
    edit = studio.post("/s/%2e%2e%2foutside/edit", {"base": "x", "op": "edit_title", "args": {"title": "x"}})
    assert edit.status_code in (404, 422)
    assert story_json(outside)["title"] == "SECRET OUTSIDE"


def _upload(name: str, data: bytes) -> dict:
    return {"file": {"name": name, "data": base64.b64encode(data).decode()}, "settings": {"scenes": 1}}


def test_uploads_over_1_mb_of_the_wrong_kind_or_not_utf8_are_refused(studio: Studio) -> None:
    before = sorted(p.name for p in studio.root.iterdir())
    big = studio.post("/api/stories", _upload("tale.txt", b"Once upon a time. " * 60_000))
    assert big.status_code == 413 and "1,000,000 bytes" in big.json()["detail"]
    huge = studio.post("/api/stories", _upload("tale.txt", b"x" * 3_000_000))
    assert huge.status_code == 413  # over the body limit: refused before it is read
    pasted = studio.post("/api/stories", {"text": "Once upon a time. " * 60_000})
    assert pasted.status_code == 413
    suffix = studio.post("/api/stories", _upload("tale.pdf", b"Once upon a time."))
    assert suffix.status_code == 422 and ".txt and .md" in suffix.json()["detail"]
    latin = studio.post("/api/stories", _upload("tale.txt", "Il était une fois un renard.".encode("latin-1")))
    assert latin.status_code == 422 and "not UTF-8" in latin.json()["detail"]
    binary = studio.post("/api/stories", _upload("tale.md", b"\x00\x01\x02"))
    assert binary.status_code == 422
    both = studio.post("/api/stories", {"prompt": "a fox", "text": "A fox."})
    assert both.status_code == 422 and "one of them" in both.json()["detail"]
    unusable = studio.post("/api/stories", {"prompt": "a fox", "settings": {"illustrator": "nope"}})
    assert unusable.status_code == 422 and "nope" in unusable.json()["detail"]
    option = studio.post("/api/stories", {"prompt": "a fox", "settings": {"options": "bogus=1"}})
    assert option.status_code == 422 and "'bogus'" in option.json()["detail"]
    assert sorted(p.name for p in studio.root.iterdir()) == before  # nothing was made


def test_a_token_is_required_beyond_loopback(tmp_path: Path) -> None:
    proc = subprocess.run([*studio_command(), "--dir", str(tmp_path), "--host", "0.0.0.0", "--no-browser",
                           "--port", "0"], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "STORYMODE_TOKEN"})
    assert proc.returncode == 2, proc.stderr
    assert "token" in proc.stderr and "0.0.0.0" in proc.stderr and proc.stdout == ""
    weak = subprocess.run([*studio_command(), "--dir", str(tmp_path), "--host", "0.0.0.0", "--no-browser",
                           "--port", "0", "--token", "short"], capture_output=True, text=True, timeout=60)
    assert weak.returncode == 2 and "too weak" in weak.stderr


def test_a_taken_port_gives_the_next_free_one_and_says_so(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = Studio(tmp_path, "--port", str(port))
        try:
            assert server.port != port and server.port > port
            assert f"port {port} is taken; using {server.port}" in server.log.read_text()
            assert server.client.get("/").status_code == 200
        finally:
            server.stop()


def test_with_a_token_the_browser_gets_it_once_then_a_strict_cookie(tmp_path: Path) -> None:
    root = tmp_path / "stories"
    root.mkdir()
    server = Studio(root, "--token", TOKEN)
    try:
        assert server.client.get("/").status_code == 401
        wrong = server.client.get("/?token=not-the-token")
        assert wrong.status_code == 401
        first = server.client.get(f"/?token={TOKEN}", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/"
        status, _ = server.raw_get(f"//evil.example/?token={TOKEN}")
        assert status in (303, 401)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", f"//evil.example/?token={TOKEN}")
        assert conn.getresponse().getheader("location") == "/evil.example/"  # never another host
        conn.close()
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN in cookie
        page = server.client.get("/")  # the client keeps the cookie, as a browser does
        assert page.status_code == 200 and "New story" in page.text
        csrf = csrf_of(page.text)
        r = server.client.post("/api/stories", json={"prompt": ""}, headers={"Origin": server.url,
                                                                          "X-Studio-CSRF": csrf})
        assert r.status_code == 422  # past the token and CSRF checks: the empty prompt is what is refused
    finally:
        server.stop()


# ---------------------------------------------------------------- making, hearing and rendering
def _events(studio: Studio, story_id: str, timeout: float = 300) -> list[tuple[str, dict]]:
    """The story's server-sent events until its job is done or failed."""
    seen: list[tuple[str, dict]] = []
    with httpx.Client(base_url=studio.url, timeout=httpx.Timeout(timeout, connect=30)) as client:
        with client.stream("GET", f"/s/{story_id}/events") as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: ") and kind:
                    data = json.loads(line[len("data: "):])
                    seen.append((kind, data))
                    if kind == "job" and data["status"] in ("done", "failed"):
                        return seen
    return seen


@pytest.mark.slow
def test_a_story_made_from_a_prompt_streams_its_progress_to_done(studio: Studio) -> None:
    from PIL import Image

    r = studio.post("/api/stories", {"prompt": "a brave little owl", "settings": {"scenes": 2, "resolution": "480p"}})
    assert r.status_code == 202, r.text
    story_id = r.json()["id"]
    assert story_id == "a-brave-little-owl" and r.json()["url"] == f"/s/{story_id}"
    seen = _events(studio, story_id)
    assert seen[-1][0] == "job" and seen[-1][1]["status"] == "done", seen[-1]
    ended = [data["stage"] for kind, data in seen if kind == "progress" and data["kind"] == "stage-end"]
    assert ended == ["write", "narrate", "illustrate"]
    folder = studio.root / f"{story_id}.storymode"
    story = story_json(folder)
    assert len(story["scenes"]) == 2
    assert len(list((folder / "art").glob("*.png"))) == 2
    card = [e for e in Page(studio.client.get("/").text).find("li") if e["attrs"].get("data-story") == story_id]
    assert card and card[0]["attrs"]["data-state"] == "illustrated"
    picture = studio.client.get(f"/s/{story_id}/art/{story['scenes'][0]['id']}")
    assert picture.status_code == 200
    image = Image.open(io.BytesIO(picture.content))
    assert image.size[1] > 480 and image.getextrema() != ((0, 0), (0, 0), (0, 0))


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.slow
def test_a_voice_preview_and_a_line_play_as_real_audio(studio: Studio, made: Path) -> None:
    copy_story(studio, made, "hear")
    preview = studio.post("/s/hear/voice-preview", {"voice": "narrator"})
    assert preview.status_code == 200 and preview.headers["content-type"] == "audio/wav"
    assert _wav_seconds(preview.content) > 1.0
    unknown = studio.post("/s/hear/voice-preview", {"voice": "nobody"})
    assert unknown.status_code == 422 and "no voice preset" in unknown.json()["detail"]
    version = studio.story("hear")["version"]
    edited = studio.post("/s/hear/edit", {"base": version, "op": "edit_line",
                                          "args": {"scene_id": "s001", "index": 0, "text": "Hello there, fox."}})
    played = studio.post("/s/hear/play", {"base": edited.json()["version"], "scene_id": "s001", "index": 0})
    assert played.status_code == 200, played.text
    wav = studio.client.get(played.json()["url"])
    assert wav.status_code == 200 and 0.3 < _wav_seconds(wav.content) < 5
    stale = studio.post("/s/hear/play", {"base": version, "scene_id": "s001", "index": 0})
    assert stale.status_code == 409


@pytest.mark.slow
def test_render_makes_a_video_and_captions_that_decode(studio: Studio, made: Path, tmp_path: Path) -> None:
    copy_story(studio, made, "render")
    assert studio.client.get("/s/render/files/video").status_code == 404
    r = studio.post("/s/render/jobs/render")
    assert r.status_code == 202, r.text
    assert studio.post("/s/render/jobs/render").status_code == 409  # one job at a time per story
    job = studio.wait_job("render")
    assert job["status"] == "done", job["error"]
    assert (studio.root / "render.mp4").is_file()
    video = studio.client.get("/s/render/files/video?download=1")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert "attachment" in video.headers["content-disposition"]
    (tmp_path / "got.mp4").write_bytes(video.content)
    check_story_video(tmp_path / "got.mp4", 854, 480)
    vtt = studio.client.get("/s/render/files/vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert len(vtt_cues(vtt.text)) >= 3
    page = Page(studio.client.get("/s/render").text)
    (track,) = page.find("track")
    assert track["attrs"]["kind"] == "captions" and "default" in track["attrs"]
    links = {e["attrs"]["data-download"]: e["attrs"]["href"] for e in page.find("a") if "data-download" in e["attrs"]}
    assert {"render.mp4", "render.srt", "render.vtt", "storybook.html"} <= set(links)
    book = studio.client.get(links["storybook.html"])
    assert book.status_code == 200 and "attachment" in book.headers["content-disposition"]
    assert book.headers["content-security-policy"] == "sandbox"
    card = [e for e in Page(studio.client.get("/").text).find("li") if e["attrs"].get("data-story") == "render"]
    assert card[0]["attrs"]["data-state"] == "rendered"
