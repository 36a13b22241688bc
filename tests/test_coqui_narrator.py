"""The Coqui narrator through coqui-tts's real loading path, on tiny random VITS models built here (no download)."""
from __future__ import annotations

import json
import os
import socket
import wave
from pathlib import Path

import numpy as np
import pytest

from storymode.cast import VoicePreset
from storymode.errors import UsageError

RATE = 16000  # the tiny models' rate: not a default anywhere, so the narrator must read it from config.json


def build_vits(folder: Path, speakers: list[str] | None = None) -> Path:
    """A tiny randomly initialised character-input VITS saved as config.json + model.pth (as Coqui releases it)."""
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    folder.mkdir(parents=True)
    args = VitsArgs(hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_layers_text_encoder=1,
                    num_layers_posterior_encoder=1, num_layers_flow=1, kernel_size_flow=3, out_channels=257,
                    upsample_initial_channel_decoder=16, resblock_kernel_sizes_decoder=[3],
                    resblock_dilation_sizes_decoder=[[1, 3, 5]], init_discriminator=False, use_sdp=False,
                    use_speaker_embedding=bool(speakers), speaker_embedding_channels=8)
    if speakers:
        args.speakers_file = str(folder / "speaker_ids.json")
        Path(args.speakers_file).write_text(json.dumps({s: i for i, s in enumerate(speakers)}))
    audio = BaseAudioConfig(sample_rate=RATE, fft_size=512, win_length=512, hop_length=256, num_mels=20,
                            do_trim_silence=False)
    config = VitsConfig(model_args=args, audio=audio, use_phonemes=False, text_cleaner="basic_cleaners",
                        use_speaker_embedding=bool(speakers), speakers_file=args.speakers_file)
    torch.manual_seed(0)
    model = Vits(config)
    with torch.no_grad():  # louder than a random decoder's whisper; about 4 frames per input token
        model.waveform_decoder.conv_post.weight.mul_(60)
        model.duration_predictor.proj.weight.mul_(0.1)
        model.duration_predictor.proj.bias.fill_(1.35)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory):
    """One single-speaker and one two-speaker tiny model, built once; one torch thread while they run."""
    pytest.importorskip("TTS", exc_type=ImportError)  # also when coqui-tts is there but torchaudio is not
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from threads, and threads spin on a busy machine
    root = tmp_path_factory.mktemp("coqui")
    yield {"one": build_vits(root / "one"), "two": build_vits(root / "two", ["ada", "bo"])}
    torch.set_num_threads(threads)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """An empty Coqui model folder, and any download or network connection fails the test."""
    from TTS.utils.manage import ModelManager

    from storymode.narrators.coqui import _engine

    def refuse(*args, **kwargs):
        pytest.fail("a download or network connection was attempted")

    for method in ("download_model", "create_dir_and_download_model", "_download_hf_model", "_download_github_model",
                   "download_fairseq_model", "_download_zip_file", "_download_tar_file", "_download_model_files"):
        monkeypatch.setattr(ModelManager, method, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("TTS_HOME", str(tmp_path))
    _engine.cache_clear()
    yield tmp_path / "tts"
    _engine.cache_clear()


def narrator(**options):
    """A Coqui narrator on the CPU with these options."""
    from storymode.narrators.coqui import CoquiNarrator

    return CoquiNarrator(CoquiNarrator.Options(**{"device": "cpu", **options}))


def voice(**fields) -> VoicePreset:
    """A Coqui voice preset."""
    return VoicePreset(name="test", backend="coqui", **fields)


def test_single_speaker_sentence_audio(models, tmp_path):
    from storymode.sound.wav import write_wav

    n = narrator(model=str(models["one"]))
    audio = n.sentence_audio("hello there, little fox", voice(), 1.0)
    samples = audio.samples
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0 and np.isfinite(samples).all()
    assert audio.rate == RATE and np.abs(samples).max() > 0.05
    write_wav(tmp_path / "a.wav", samples, audio.rate)
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert w.getframerate() == RATE and w.getnframes() / RATE > 0.1
    again = n.sentence_audio("hello there, little fox", voice(), 1.0)
    assert np.array_equal(samples, again.samples)  # the seed fixes the sampling noise


def test_speed_and_pace_shorten_the_sentence(models):
    n = narrator(model=str(models["one"]))
    slow = n.sentence_audio("once upon a time there was a fox", voice(speed=1.0), 1.0).samples
    fast = n.sentence_audio("once upon a time there was a fox", voice(speed=1.25), 1.6).samples
    assert 0.4 < len(fast) / len(slow) < 0.7


def test_narrate_gives_sentence_spans(models):
    from storymode.narrators.coqui import CoquiNarrator

    n = CoquiNarrator(CoquiNarrator.Options(model=str(models["one"]), device="cpu"))
    narration = n.narrate("Hello there. How are you?", voice())
    assert [s.text for s in narration.sentences] == ["Hello there.", "How are you?"]
    first, second = narration.sentences
    assert 0 <= first.start < first.end < second.start < second.end <= narration.duration + 1e-6
    assert narration.sample_rate == RATE and narration.samples.dtype == np.float32
    assert np.isfinite(narration.samples).all() and narration.duration > 0.2


def test_speakers_sound_different_and_unknown_is_listed(models):
    n = narrator(model=str(models["two"]))
    ada = n.sentence_audio("hello there", voice(speaker="ada"), 1.0).samples
    bo = n.sentence_audio("hello there", voice(speaker="bo"), 1.0).samples
    assert ada.size and bo.size and (ada.shape != bo.shape or not np.allclose(ada, bo, atol=1e-3))
    preset_wins = narrator(model="/nowhere", speaker="nobody").sentence_audio(
        "hello there", voice(model=str(models["two"]), speaker="bo"), 1.0)
    assert np.array_equal(preset_wins.samples, bo)
    with pytest.raises(UsageError, match=r"no speaker 'carol'; speakers: ada, bo"):
        n.sentence_audio("hello", voice(speaker="carol"), 1.0)
    with pytest.raises(UsageError, match=r"several speakers.*ada, bo"):
        n.sentence_audio("hello", voice(), 1.0)


def test_speaker_for_single_speaker_model_is_refused(models):
    with pytest.raises(UsageError, match=r"single speaker; remove speaker='ada'"):
        narrator(model=str(models["one"]), speaker="ada").sentence_audio("hello", voice(), 1.0)
    with pytest.raises(UsageError, match=r"remove language='de'"):
        narrator(model=str(models["one"]), language="de").sentence_audio("hello", voice(), 1.0)


def test_broken_model_folders_name_the_file(models, tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_bytes((models["one"] / "config.json").read_bytes())
    (corrupt / "model.pth").write_bytes(b"\x00garbage, not a checkpoint\n" * 200)
    with pytest.raises(UsageError, match=rf"{corrupt / 'model.pth'}.*corrupt or incomplete"):
        narrator(model=str(corrupt)).sentence_audio("hello", voice(), 1.0)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_bytes((models["one"] / "config.json").read_bytes())
    (truncated / "model.pth").write_bytes((models["one"] / "model.pth").read_bytes()[:50_000])
    with pytest.raises(UsageError, match=r"truncated/model.pth.*corrupt or incomplete"):
        narrator(model=str(truncated)).sentence_audio("hello", voice(), 1.0)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.pth").write_bytes((models["one"] / "model.pth").read_bytes())
    with pytest.raises(UsageError, match=rf"{bare} has no config.json"):
        narrator(model=str(bare)).sentence_audio("hello", voice(), 1.0)
    mismatched = tmp_path / "mismatched"
    mismatched.mkdir()
    (mismatched / "config.json").write_bytes((models["one"] / "config.json").read_bytes())
    (mismatched / "model.pth").write_bytes((models["two"] / "model.pth").read_bytes())
    with pytest.raises(UsageError, match=r"does not match .*config.json"):
        narrator(model=str(mismatched)).sentence_audio("hello", voice(), 1.0)


def test_missing_catalogue_model_is_not_downloaded(models, offline, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def cache_only(repo_id, **kwargs):
        assert kwargs.get("local_files_only") is True
        raise LocalEntryNotFoundError(f"{repo_id} is not in the cache")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", cache_only)
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    with pytest.raises(UsageError, match=r"not on this machine.*never downloads.*tts --model_name "
                                         r"tts_models/en/ljspeech/vits --list_speaker_idxs.*local folder"):
        narrator(model="tts_models/en/ljspeech/vits").sentence_audio("hello", voice(), 1.0)
    with pytest.raises(UsageError, match=r"not on this machine.*Hugging Face cache"):
        narrator(model="tts_models/multilingual/multi-dataset/xtts_v2").sentence_audio("hello", voice(), 1.0)
    assert "COQUI_TOS_AGREED" not in os.environ
    with pytest.raises(UsageError, match=r"neither .* nor a catalogue name"):
        narrator(model="no/such/thing").sentence_audio("hello", voice(), 1.0)
    with pytest.raises(UsageError, match=r"no Coqui model chosen"):
        narrator(model="").sentence_audio("hello", voice(), 1.0)


def test_catalogue_model_on_disk_loads_without_network(models, offline):
    import shutil

    folder = offline / "tts_models--en--ljspeech--vits"
    shutil.copytree(models["one"], folder)
    audio = narrator(model="tts_models/en/ljspeech/vits").sentence_audio("hello there", voice(), 1.0)
    assert audio.rate == RATE and audio.samples.size > 0 and np.isfinite(audio.samples).all()


def test_stretch_keeps_pitch_changes_length():
    from storymode.narrators.coqui import _stretch

    tone = np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE).astype(np.float32) * 0.5
    fast = _stretch(tone, RATE, 2.0)
    assert fast.dtype == np.float32 and abs(len(fast) - RATE / 2) < RATE * 0.05
    spectrum = np.abs(np.fft.rfft(fast[1000:7000] * np.hanning(6000)))
    assert abs(np.argmax(spectrum) * RATE / 6000 - 220) < 10


def test_cuda_refused_without_a_gpu(models):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(UsageError, match="device=cuda"):
        narrator(model=str(models["one"]), device="cuda").sentence_audio("hello", voice(), 1.0)


def test_not_usable_without_coqui(monkeypatch):
    import importlib.util

    from storymode.narrators.coqui import CoquiNarrator

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "TTS" else real(name, *a))
    ok, why = CoquiNarrator.usable()
    assert not ok and 'pip install "storymode[coqui]"' in why
