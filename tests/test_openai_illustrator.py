"""The openai illustrator against a real Images API server process on 127.0.0.1 (tests/servers/images_api.py):
sizes per model, b64_json and url replies, Azure's shape, the error shapes (401, 429, 500, content policy), slow
and broken replies, the concurrency limit, and a whole story through the CLI with the key never written anywhere."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest

from storymode.errors import BackendError, UsageError
from storymode.illustrators.base import IllustrationRequest
from storymode.illustrators.openai_images import (ContentFallbackWarning, OpenAIImagesIllustrator, api_size,
                                                  model_family)
from storymode.illustrators.prompting import build_prompt
from storymode.openai_api import ContentRefused
from storymode.story import Brief, Character
from storymode.timeline import frame_size, with_zoom_margin

from .conftest import check_story_video, run_cli

SERVER = Path(__file__).parent / "servers" / "images_api.py"
KEY = "sk-test-SECRET-1234567890"
KEY_ENV = "STORYMODE_TEST_IMAGES_KEY"
CENTRE = (250, 200, 30)  # the server draws a disc of this colour in the middle of every picture
FRAME_480P = with_zoom_margin(*frame_size("16:9", "480p"))  # 968x544: the frame plus the zoom margin
CAST = (Character(id="fox", name="Fern", kind="red fox", description="small, with a white-tipped tail"),
        Character(id="owl", name="Olo", kind="owl", description="grey, round spectacles"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The Images API server as a process on a free port, requiring KEY; its request log; its /stats."""
    log = tmp_path_factory.mktemp("images-api") / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(SERVER), "--key", KEY, "--log", str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # READY <port> once it listens
        assert line.startswith("READY"), proc.stderr.read()
        root = f"http://127.0.0.1:{int(line.split()[1])}"
        yield {"root": root, "url": root + "/v1", "log": log}
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes its pipes


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def illustrator(server, model: str, **opts) -> OpenAIImagesIllustrator:
    options = {"base_url": server["url"], "model": model, "api_key_env": KEY_ENV, "timeout": 30, **opts}
    return OpenAIImagesIllustrator(OpenAIImagesIllustrator.Options(**options))


def request(index: int = 0, size: tuple[int, int] = FRAME_480P, who: tuple[str, ...] = ("fox",)):
    brief = Brief(setting="forest", action="looks up at the moon", characters=list(who), props=["lantern"],
                  time_of_day="night", mood="calm")
    return IllustrationRequest(brief=brief, cast=CAST, scene_text="Fern looked up.", scene_index=index,
                               scene_count=4, style="storybook", seed=7, width=size[0], height=size[1])


def posts(server, model: str) -> list[dict]:
    rows = [json.loads(line) for line in server["log"].read_text().splitlines()]
    return [r for r in rows if (r["body"] or {}).get("model") == model]


def stats(server) -> dict:
    return httpx.get(server["root"] + "/stats", timeout=10).json()


def decoded(image):
    """The picture written as PNG and read back (what the pipeline saves)."""
    from PIL import Image

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


# ---------------------------------------------------------------- sizes
def test_sizes_map_to_what_each_model_accepts():
    assert api_size("gpt-image-1", 968, 544) == (1536, 1024)
    assert api_size("gpt-image-1", 544, 968) == (1024, 1536)
    assert api_size("gpt-image-1", 1224, 1224) == (1024, 1024)
    assert api_size("dall-e-3", 1448, 816) == (1792, 1024)
    assert api_size("dall-e-3", 816, 1448) == (1024, 1792)
    assert api_size("dall-e-2", 200, 120) == (256, 256)  # the smallest square that covers the picture
    assert api_size("dall-e-2", 968, 544) == (1024, 1024)
    assert api_size("dall-e-2", 2000, 2000) == (1024, 1024)  # none covers: the largest
    assert api_size("sdxl-local", 968, 544) == (1024, 576)  # another model: multiples of 64, rounded up
    assert model_family("gpt-image-1-mini") == "gpt-image" and model_family("flux") is None


@pytest.mark.parametrize("model, size, asked, response_format", [
    ("gpt-image-1", FRAME_480P, "1536x1024", None),
    ("gpt-image-1", (544, 968), "1024x1536", None),
    ("dall-e-3", FRAME_480P, "1792x1024", "b64_json"),
    ("dall-e-2", FRAME_480P, "1024x1024", "b64_json"),
    ("ok", FRAME_480P, "1024x576", "b64_json"),
])
def test_b64_pictures_come_back_at_the_frame_size_with_margin(server, key, model, size, asked, response_format):
    picture = illustrator(server, model).illustrate(request(size=size))
    image = decoded(picture.image)
    assert image.size == size
    assert image.getpixel((size[0] // 2, size[1] // 2)) == CENTRE  # scaled and cropped about the centre
    sent = posts(server, model)[-1]
    assert sent["body"]["size"] == asked and sent["body"].get("response_format") == response_format
    assert "response_format" in sent["body"] or model == "gpt-image-1"
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    drawn = picture.drawn
    assert drawn["answered_as"] == "b64_json" and drawn["generated_size"] == [int(x) for x in asked.split("x")]
    assert drawn["size"] == list(size) and drawn["seed"] is None and "no seed" in drawn["seed_note"]
    if model == "dall-e-3":
        assert drawn["revised_prompt"].startswith("A revised:")


def test_prompt_is_the_shared_builders_and_quality_passes_through(server, key):
    il = illustrator(server, "dall-e-3", quality="hd")
    for index in (0, 1):
        il.illustrate(request(index, who=("fox", "owl")))
    sent = posts(server, "dall-e-3")[-2:]
    expected = build_prompt(request(0, who=("fox", "owl")).brief, CAST, "storybook", story_seed=7, scene_index=0)
    assert sent[0]["body"]["prompt"] == expected.prompt  # nothing was cut: 4000 characters are allowed
    assert "a red fox (small, with a white-tipped tail)" in sent[1]["body"]["prompt"]  # the same look each scene
    assert all(s["body"]["quality"] == "hd" for s in sent)


# ---------------------------------------------------------------- url replies
def test_url_on_the_same_host_is_fetched(server, key):
    picture = illustrator(server, "urlonly").illustrate(request())
    assert picture.drawn["answered_as"] == "url" and decoded(picture.image).size == FRAME_480P


def test_url_on_another_host_is_refused_without_a_download(server, key):
    with pytest.raises(BackendError, match=r"another host \(images\.example\.invalid\).*downloads nothing"):
        illustrator(server, "elsewhere").illustrate(request())  # no_network fails the test on any attempt


# ---------------------------------------------------------------- errors
def test_wrong_or_missing_key_names_the_variable(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-0987654321")
    with pytest.raises(BackendError, match=rf"refused the key \(HTTP 401\): check the key in \${KEY_ENV}") as info:
        illustrator(server, "ok", max_retries=0).illustrate(request())
    assert "sk-wrong-key-0987654321" not in str(info.value)  # the server echoed it; it is not repeated
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(BackendError, match=rf"set the environment variable {KEY_ENV}"):
        illustrator(server, "ok", max_retries=0).illustrate(request())


def test_rate_limit_is_retried_after_retry_after(server, key):
    assert illustrator(server, "ratelimit-a").illustrate(request()).image.size == FRAME_480P
    assert stats(server)["hits"]["ratelimit-a"] == 2


def test_server_errors_give_up_after_the_retries(server, key):
    with pytest.raises(BackendError, match=r"scene 1: .*HTTP 500.*gave up after 1 retries") as info:
        illustrator(server, "always500-a", max_retries=1).illustrate(request())
    assert KEY not in str(info.value)
    assert stats(server)["hits"]["always500-a"] == 2


def test_content_refusal_fails_naming_the_scene(server, key):
    with pytest.raises(ContentRefused, match=r"^scene 3: .*content policy.*on_refusal=storybook"):
        illustrator(server, "refuse-a").illustrate(request(index=2))


def test_content_refusal_can_fall_back_to_the_storybook(server, key):
    il = illustrator(server, "refuse-b", on_refusal="storybook")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picture = il.illustrate(request(index=1))
    said = [str(w.message) for w in caught if issubclass(w.category, ContentFallbackWarning)]
    assert said == ["scene 2: the Images API refused the picture on content policy; it was drawn by the storybook "
                    "illustrator instead"]
    image = decoded(picture.image)
    assert image.size == FRAME_480P and max(hi - lo for lo, hi in image.getextrema()) > 50  # really drawn
    assert picture.drawn["backend"] == "storybook" and picture.drawn["fallback_for"] == "openai"
    assert "content policy" in picture.drawn["refused"]
    assert any("OpenMoji" in line for line in il.credit_lines())


def test_slow_reply_times_out(server, key):
    with pytest.raises(BackendError, match=r"no reply from .* within 0.5 s"):
        illustrator(server, "slow", timeout=0.5, max_retries=0).illustrate(request())


@pytest.mark.parametrize("model, message", [
    ("truncpng", r"not a readable picture \(\d+ bytes: image file is truncated"),
    ("notimage", r"not a readable picture \(34 bytes: no picture format Pillow reads; it starts b'<html>"),
    ("cutbody", r"the reply from http://127\.0\.0\.1:\d+/v1 broke off before its end \(after 1 retries\)"),
])
def test_broken_replies_are_clear_errors(server, key, model, message):
    with pytest.raises(BackendError, match=message):
        illustrator(server, model, max_retries=1).illustrate(request())


# ---------------------------------------------------------------- Azure
def test_azure_deployment_shape(server, key):
    il = illustrator(server, "gpt-image-1", base_url=server["root"], api_version="2024-10-21", deployment="pics")
    assert decoded(il.illustrate(request()).image).size == FRAME_480P
    sent = posts(server, "gpt-image-1")[-1]
    assert sent["path"] == "/openai/deployments/pics/images/generations"
    assert sent["query"] == "api-version=2024-10-21"
    assert sent["headers"]["api-key"] == KEY and "authorization" not in sent["headers"]
    assert KEY not in json.dumps(il.fingerprint())


# ---------------------------------------------------------------- concurrency
def test_concurrency_limits_the_requests_in_flight(server, key):
    # the server holds each "hold" request until a second one is in flight (or 5 s pass)
    pictures = illustrator(server, "hold-a", concurrency=2).illustrate_many([request(i) for i in range(4)])
    assert [p.image.size for p in pictures] == [FRAME_480P] * 4
    counts = stats(server)
    assert counts["hits"]["hold-a"] == 4 and counts["max_in_flight"]["hold-a"] == 2



def test_pictures_before_a_failing_scene_are_yielded_first(server, key):
    # one request at a time, so the server's every-second refusal falls on scene 2
    pictures = illustrator(server, "refuseeven-each", concurrency=1).illustrate_each([request(i) for i in range(3)])
    assert next(pictures).drawn["backend"] == "openai"
    with pytest.raises(ContentRefused, match=r"^scene 2: "):
        next(pictures)

# ---------------------------------------------------------------- options
def test_options_are_checked_and_the_fingerprint_holds_no_secret(monkeypatch):
    Opts = OpenAIImagesIllustrator.Options
    with pytest.raises(UsageError, match="always answers base64"):
        OpenAIImagesIllustrator(Opts(model="gpt-image-1", response_format="url"))
    with pytest.raises(UsageError, match=r"draws 1024x1024, 1536x1024, 1024x1536, not 1792x1024"):
        OpenAIImagesIllustrator(Opts(model="gpt-image-1", size="1792x1024"))
    with pytest.raises(ValueError):
        Opts(sizes="auto")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    il = OpenAIImagesIllustrator(Opts(base_url="http://user:pw@127.0.0.1:9/v1", model="sd", size="640x384"))
    shown = json.dumps(il.fingerprint())
    assert KEY not in shown and "pw" not in shown and "concurrency" not in shown and "no seed" in shown
    assert il.credit_lines() == ["Pictures made by sd through an OpenAI-compatible Images API"]
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(UsageError, match="set the environment variable OPENAI_API_KEY"):
        OpenAIImagesIllustrator().illustrate(request())  # the hosted API with no key: refused before any request


# ---------------------------------------------------------------- a whole story through the CLI
@pytest.mark.slow
def test_a_story_through_the_cli_and_the_key_never_leaks(server, tmp_path):
    # the server refuses every second request: one scene comes from the API, the other from the storybook, said
    # (two requests are in flight at once, so which of them reaches the server second is not fixed)
    proc = run_cli("make", "a fox and an owl look at the moon", "-o", "moon.mp4", "--illustrator", "openai",
                   "-o", f"base_url={server['url']}", "-o", f"api_key_env={KEY_ENV}", "-o", "model=refuseeven-cli",
                   "-o", "on_refusal=storybook", "--scenes", "2", "--resolution", "480p", "--progress", "json",
                   cwd=tmp_path, env={KEY_ENV: KEY})
    assert proc.returncode == 0, proc.stderr
    check_story_video(tmp_path / "moon.mp4", *frame_size("16:9", "480p"))
    folder = tmp_path / "moon.storymode"
    records = {json.loads(p.read_text())["backend"]: p.with_suffix(".png") for p in (folder / "art").glob("*.json")}
    assert sorted(records) == ["openai", "storybook"]
    from PIL import Image

    for png in records.values():
        with Image.open(png) as img:
            assert img.size == FRAME_480P
    warned = [json.loads(line) for line in proc.stdout.splitlines() if '"warning"' in line]
    story = json.loads((folder / "story.json").read_text())
    fell_back = [n for n, scene in enumerate(story["scenes"], 1)
                 if json.loads((folder / "art" / Path(_scene_png(folder, scene["id"])).with_suffix(".json").name)
                               .read_text())["backend"] == "storybook"]
    assert len(fell_back) == 1, fell_back
    assert any(f"scene {fell_back[0]}: the Images API refused" in json.dumps(w) for w in warned), proc.stdout
    assert KEY not in proc.stdout and KEY not in proc.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def _scene_png(folder: Path, scene_id: str) -> str:
    """The picture the manifest records for a scene."""
    artifacts = json.loads((folder / "manifest.json").read_text())["artifacts"]
    return next(a["file"] for a in artifacts.values() if a["stage"] == "illustrate" and a["inputs"]["scene"] == scene_id)
