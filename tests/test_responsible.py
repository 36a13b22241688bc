"""Responsible by default, end to end: screening for the audience through the CLI, the Python API and the HTTP
service; a language-model writer asked again with the rule stated (a scripted server; the prompt injection against
a real llama.cpp server is in test_llama_writer.py, beside its server); Content Credentials on every picture and
video, read back by `storymode verify` and by c2pa-python itself; the AI notice on the end card and in the video's
metadata."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storymode.story import load_story

from .conftest import FAST

ROOT = Path(__file__).resolve().parents[1]
GORY = "a bloody murder with a knife in the dark"


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """python -m storymode ARGS in cwd, captured."""
    return subprocess.run([sys.executable, "-m", "storymode", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def events_of(stdout: str) -> list[dict]:
    """The --progress json events."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# ---------------------------------------------------------------- screening through the CLI and the API
def test_kids_prompt_refused_with_category_not_words(tmp_path):
    proc = cli("make", GORY, "-o", "x.mp4", *FAST, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    said = proc.stderr.lower()
    assert "violence" in said and "kids" in said and "traceback" not in said
    assert "murder" not in said and "bloody" not in said and "knife" not in said  # never echoed in full
    assert not (tmp_path / "x.storymode").exists()  # refused before any folder was made


def test_adults_allowed_and_recorded(tmp_path):
    proc = cli("write", "a murder mystery in an old manor house", "--audience", "adults", "-d", "m.storymode",
               "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    story = load_story(tmp_path / "m.storymode" / "story.json")
    assert story.screening is not None and story.screening.audience == "adults"
    assert "violence" in story.screening.allowed and "offline" in story.screening.screens
    refused = cli("write", "a murder mystery in an old manor house", "-d", "k.storymode", "--quiet", cwd=tmp_path)
    assert refused.returncode == 2 and "kids" in refused.stderr


def test_innocent_prompts_pass_for_kids(tmp_path):
    import storymode

    for n, prompt in enumerate(["a fox hunts for berries", "the battle of the bands at the village fair"]):
        story = storymode.write(prompt, story_dir=tmp_path / f"s{n}.storymode", scenes=2)
        assert story.screening is not None and story.screening.allowed == [] and story.screening.softened == 0


def test_edited_story_json_is_screened_again(tmp_path):
    import storymode
    from storymode.errors import Refused

    folder = tmp_path / "fox.storymode"
    storymode.write("a shy fox who learns to fly", story_dir=folder, scenes=2)
    data = json.loads((folder / "story.json").read_text())
    data["scenes"][1]["lines"].append({"speaker": "narrator", "text": "Then the fox killed the hen and ate it, "
                                                                      "blood dripping from its teeth."})
    (folder / "story.json").write_text(json.dumps(data))
    with pytest.raises(Refused) as info:
        storymode.narrate(folder)
    assert "story.json" in str(info.value) and "kids" in str(info.value)
    proc = cli("compose", "-d", str(folder), "--quiet", cwd=tmp_path)
    assert proc.returncode == 2 and "story.json" in proc.stderr and "blood" not in proc.stderr.lower()
    again = cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--quiet", cwd=tmp_path)
    assert again.returncode == 2 and "story.json" in again.stderr  # the same request reuses the edited story.json
    assert not list((folder / "narration").glob("*.wav"))  # refused before a single line was narrated


def test_user_text_screened(tmp_path):
    text = tmp_path / "tale.md"
    text.write_text("The old man drank whisky until he was drunk, then he shot the dog with his gun.\n\n"
                    "Nobody cried.\n", encoding="utf-8")
    proc = cli("write", "--from", str(text), "-d", "t.storymode", "--quiet", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "the text" in proc.stderr and "kids" in proc.stderr and "whisky" not in proc.stderr


# ---------------------------------------------------------------- asking a language model again
@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    """The scripted OpenAI-compatible chat server (tests/servers/openai_server.py) on 127.0.0.1."""
    log = tmp_path_factory.mktemp("chat") / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "servers" / "openai_server.py"), "--log", str(log)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    yield f"http://127.0.0.1:{line.split()[1]}/v1", log
    proc.terminate()
    proc.wait(10)


def test_llm_story_softened_with_the_rule_stated(chat_server, tmp_path):
    url, log = chat_server
    proc = cli("write", "a wolf and a farmer", "-d", "w.storymode", "--writer", "openai", "-o", f"base_url={url}",
               "-o", "model=gory-1", "--scenes", "2", "--progress", "json", cwd=tmp_path,
               env={"OPENAI_API_KEY": "test-key-123"})
    assert proc.returncode == 0, proc.stderr
    warnings = [e for e in events_of(proc.stdout) if e["kind"] == "warning"]
    assert any("asking it again" in e["message"] for e in warnings)
    story = load_story(tmp_path / "w.storymode" / "story.json")
    assert story.screening.softened == 1 and "blood" not in story.to_json().lower()
    asks = [json.loads(line)["body"] for line in log.read_text().splitlines()]
    asks = [b for b in asks if b.get("model") == "gory-1"]
    assert len(asks) == 2
    system = asks[0]["messages"][0]["content"]
    assert "audience rule" in system and "No killing" in system  # stated on the first ask already
    again = asks[1]["messages"][-1]["content"]
    assert "kids" in again.lower() and "violence" in again.lower()  # the second ask says what was wrong


def test_llm_story_refused_after_three_asks(chat_server, tmp_path):
    url, _ = chat_server
    proc = cli("write", "a wolf and a farmer", "-d", "g.storymode", "--writer", "openai", "-o", f"base_url={url}",
               "-o", "model=alwaysgory-1", "--scenes", "2", "--quiet", cwd=tmp_path,
               env={"OPENAI_API_KEY": "test-key-123"})
    assert proc.returncode == 2, proc.stderr
    assert "3 tries" in proc.stderr and "violence" in proc.stderr and "blood" not in proc.stderr.lower()
    assert not (tmp_path / "g.storymode" / "story.json").exists()


# ---------------------------------------------------------------- the HTTP service
@pytest.mark.slow
def test_service_screens_for_the_audience_and_signs(tmp_path):
    import c2pa

    from .test_service import Server

    srv = Server(tmp_path / "data")
    try:
        bad = srv.client.post("/stories", json={"prompt": GORY, "settings": {"scenes": 2}})
        assert bad.status_code == 422 and "violence" in bad.json()["detail"] and "murder" not in bad.text
        text = srv.client.post("/stories", json={"text": "He got drunk on whisky and snorted cocaine.",
                                                 "settings": {"scenes": 1}})
        assert text.status_code == 422 and "drugs" in text.json()["detail"]
        off = srv.client.post("/stories", json={"prompt": "a fox", "settings": {"credentials": False}})
        assert off.status_code == 422  # credentials are the operator's, not a client's, to turn off
        adults = srv.client.post("/stories", json={"prompt": "a murder mystery in a manor house",
                                                   "settings": {"scenes": 1, "audience": "adults",
                                                                "resolution": "480p"}})
        assert adults.status_code == 202, adults.text
        job = srv.wait(adults.json()["id"], {"done", "failed"}, timeout=240)
        assert job["status"] == "done", job
        video = srv.client.get(f"/stories/{job['id']}/video")
        assert video.status_code == 200
        (tmp_path / "served.mp4").write_bytes(video.content)
        with c2pa.Reader(str(tmp_path / "served.mp4")) as reader:
            assert reader.get_active_manifest()["claim_generator_info"][0]["name"] == "storymode"
    finally:
        srv.stop()


# ---------------------------------------------------------------- credentials on every output
@pytest.fixture(scope="module")
def made(small_story):
    """A small story made with the default offline backends (credentials on, the local chain): the session's."""
    return small_story


def test_every_picture_and_the_video_carry_credentials(made):
    import c2pa

    pictures = sorted((made / "fox.storymode" / "art").glob("*.png"))
    assert len(pictures) == 2
    for path in [*pictures, made / "fox.mp4"]:
        with c2pa.Reader(str(path)) as reader:
            manifest = reader.get_active_manifest()
        actions = [a for assertion in manifest["assertions"] if assertion["label"].startswith("c2pa.actions")
                   for a in assertion["data"]["actions"]]
        created = next(a for a in actions if a["action"] == "c2pa.created")
        expected = "compositeSynthetic" if path.suffix == ".png" else "compositeWithTrainedAlgorithmicMedia"
        assert created["digitalSourceType"].endswith("/" + expected), created
    from storymode.provenance.xmp import read_ai_xmp

    assert read_ai_xmp(pictures[0])["source_type"].endswith("compositeSynthetic")
    from PIL import Image

    from storymode.timeline import frame_size, with_zoom_margin

    for picture in pictures:  # still a picture of the frame's size (480p plus the zoom margin), every pixel read
        drawn = json.loads(picture.with_suffix(".json").read_text())
        assert drawn["credentials"]["signer"] == "local storymode chain"
        assert drawn["screen"] == {"by": "construction", "outcome": "passed"}
        with Image.open(picture) as img:
            img.load()
            assert img.size == with_zoom_margin(*frame_size("16:9", "480p"))


def test_verify_reads_back_and_sees_a_changed_byte(made, tmp_path):
    video = made / "fox.mp4"
    ok = cli("verify", str(video), cwd=made)
    assert ok.returncode == 0, ok.stderr
    assert "storymode" in ok.stdout and "changed" not in ok.stdout.lower()
    data = json.loads(cli("verify", str(video), "--json", cwd=made).stdout)
    assert data["state"] == "trusted" and data["source_type"] == "compositeWithTrainedAlgorithmicMedia"
    copy = tmp_path / "fox.mp4"
    shutil.copy(video, copy)
    raw = bytearray(copy.read_bytes())
    raw[len(raw) * 2 // 3] ^= 0xFF  # a byte in the media data, far from the boxes
    copy.write_bytes(bytes(raw))
    changed = cli("verify", str(copy), cwd=made)
    assert changed.returncode == 1 and "changed" in changed.stdout.lower()
    missing = cli("verify", str(tmp_path / "nothing.png"), cwd=made)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_ai_notice_on_the_end_card_and_in_the_metadata(made):
    timeline = json.loads((made / "fox.storymode" / "build" / "timeline.json").read_text())
    credits = timeline["credits"]
    assert credits[0].startswith("Made with AI: the story by planner, the voices by hibari and the pictures by "
                                 "storybook")
    from storymode.ffmpeg_exe import ffmpeg_exe

    said = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(made / "fox.mp4")], capture_output=True,
                          text=True).stderr
    comment = next(line for line in said.splitlines() if line.strip().startswith("comment"))
    assert "Made with AI: the story by planner" in comment


def test_no_ai_notice_and_your_own_chain_only_when_asked(made, tmp_path):
    from .test_provenance import make_user_chain

    (tmp_path / "mine").mkdir()
    cert, key, _ = make_user_chain(tmp_path / "mine", include_root=False)
    shutil.copytree(made / "fox.storymode", tmp_path / "fox.storymode")
    half = cli("compose", "-d", "fox.storymode", "--sign-cert", str(cert), "--quiet", cwd=tmp_path)
    assert half.returncode == 2 and "--sign-key" in half.stderr
    proc = cli("compose", "-d", "fox.storymode", "--no-ai-notice", "--sign-cert", str(cert), "--sign-key", str(key),
               "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    timeline = json.loads((tmp_path / "fox.storymode" / "build" / "timeline.json").read_text())
    assert timeline["credits"] and not any("Made with AI" in line for line in timeline["credits"])
    said = json.loads(cli("verify", str(tmp_path / "fox.mp4"), "--json", cwd=tmp_path).stdout)
    assert said["state"] == "valid" and "Test Signer" in said["signer"]  # signed, by a CA we were not told to trust


def test_no_credentials_only_when_asked(made, tmp_path):
    shutil.copytree(made / "fox.storymode", tmp_path / "fox.storymode")
    proc = cli("illustrate", "-d", "fox.storymode", "--resolution", "480p", "--fresh", "--no-credentials", "--quiet",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pictures = sorted((tmp_path / "fox.storymode" / "art").glob("*.png"))
    assert pictures
    for picture in pictures:
        unsigned = cli("verify", str(picture), cwd=tmp_path)
        assert unsigned.returncode == 1 and "no content credentials" in unsigned.stdout.lower()
