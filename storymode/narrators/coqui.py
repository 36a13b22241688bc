"""Coqui TTS voices (coqui-tts, MPL-2.0): a local model folder, or a catalogue model already on disk.

Nothing is ever downloaded: a catalogue name ("tts_models/en/ljspeech/vits") is used only when Coqui's
ModelManager folder (or, for models hosted on the Hugging Face hub, the hub cache) already holds it. Terms of
service (XTTS's CPML) are never agreed on the user's behalf. torch and TTS are imported inside functions only.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import pickle
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..backend import BackendOptions
from ..cast import VoicePreset
from ..errors import BackendError, MissingDependency, UsageError
from .base import Audio, Narrator

CHECKPOINT_NAMES = ("model_file.pth", "model_file.pth.tar", "model.pth", "checkpoint.pth", "best_model.pth")
NOT_CHECKPOINTS = {"speakers.pth", "speaker_ids.pth", "speakers_xtts.pth", "model_se.pth", "model_se.pth.tar",
                   "dvae.pth", "mel_stats.pth"}
WHOLE_FOLDER_MODELS = ("tortoise-v2", "bark")  # catalogue models that load from their folder, not one file
SHOWN = 40  # at most this many speakers or languages in a message
_LOCK = threading.Lock()  # one synthesis at a time: a cached model is shared and its length_scale is set per call


class CoquiOptions(BackendOptions):
    """Options of the Coqui narrator."""

    model: str = Field("tts_models/en/ljspeech/vits",
                       description="a folder with config.json and a checkpoint (or the checkpoint file), or a Coqui "
                                   "catalogue name already on disk; a voice preset's model overrides it")
    vocoder: str = Field("", description="a vocoder folder or catalogue name; empty: the catalogue default, if any")
    speaker: str = Field("", description="speaker of a multi-speaker model; a voice preset's speaker overrides it")
    language: str = Field("", description="language of a multi-lingual model, e.g. 'en'")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    variation_seed: int = 0  # fixes the sampling noise so a line always sounds the same


def _synthesizer_class() -> type:
    try:
        from TTS.utils.synthesizer import Synthesizer
    except (ImportError, OSError) as err:  # OSError: a torchaudio built for another torch (e.g. CUDA on CPU)
        detail = " ".join(str(err).split())[:300]
        raise MissingDependency(f"coqui-tts cannot be imported here ({detail}). Install it with: "
                                f"pip install \"storymode[coqui]\" (it needs torch with a matching torchaudio, "
                                f"and torchcodec from torch 2.9 on)") from None
    return Synthesizer


def _device(wanted: str) -> str:
    import torch

    if wanted == "cuda" and not torch.cuda.is_available():
        raise UsageError("device=cuda was asked for, but torch sees no CUDA device here")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


def _checkpoint_in(folder: Path) -> Path:
    for name in CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.rglob("*.pt*") if p.is_file() and p.name not in NOT_CHECKPOINTS)
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"{folder} holds no model checkpoint (model.pth or another *.pth file); "
                         f"put the checkpoint next to its config.json")
    raise UsageError(f"{folder} holds several checkpoints ({', '.join(p.name for p in found[:8])}); "
                     f"set model= to the one to use")


def _local(path: Path) -> tuple[Path, Path]:
    folder = path if path.is_dir() else path.parent
    config = folder / "config.json"
    if not config.is_file():
        raise UsageError(f"{folder} has no config.json: a Coqui model folder needs the config.json the model was "
                         f"trained or released with, next to its checkpoint")
    return (_checkpoint_in(folder) if path.is_dir() else path), config


def _missing(name: str, where: Path | str) -> UsageError:
    return UsageError(
        f"the Coqui model {name!r} is not on this machine (looked in {where}), and storymode never downloads. "
        f"Fetch it once with: tts --model_name {name} --list_speaker_idxs  (or: python -c \"from TTS.api import "
        f"TTS; TTS('{name}')\"), or set model= to a local folder holding config.json and a checkpoint")


def _catalogue(name: str) -> tuple[Path, Path, dict[str, Any], Path]:
    from TTS.utils.manage import ModelManager

    manager = ModelManager(progress_bar=False)  # reads the bundled catalogue; downloads nothing
    parts = name.split("/")
    item = None
    if len(parts) == 4:
        kind, lang, dataset, model = parts
        item = manager.models_dict.get(kind, {}).get(lang, {}).get(dataset, {}).get(model)
        if item is None and dataset == "fairseq":
            item = {"default_vocoder": None}
    if item is None:
        raise UsageError(f"{name!r} is neither a folder nor a Coqui catalogue name like 'tts_models/en/ljspeech/vits' "
                         f"(list them with: tts --list_models)")
    home = Path(manager.output_prefix) / name.replace("/", "--")
    if "repo_id" in item:
        from huggingface_hub import snapshot_download

        try:
            folder = Path(snapshot_download(item["repo_id"], allow_patterns=item.get("allow"),
                                            ignore_patterns=item.get("ignore"), local_files_only=True))
        except FileNotFoundError:
            raise _missing(name, f"the Hugging Face cache, {item['repo_id']}") from None
    else:
        folder = home
        if not folder.is_dir():
            raise _missing(name, folder)
    if item.get("tos_required") and not (home / "tos_agreed.txt").is_file() \
            and os.environ.get("COQUI_TOS_AGREED") != "1":
        raise UsageError(f"the Coqui model {name!r} needs you to accept its terms (Coqui's CPML) first: fetch it "
                         f"once with `tts --model_name {name} --list_speaker_idxs` and answer the question, or set "
                         f"COQUI_TOS_AGREED=1 yourself if you agree; storymode does not agree for you")
    configs = sorted(folder.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise UsageError(f"{folder} has no config.json; delete the folder and fetch {name!r} again")
    checkpoint = folder if parts[3] in WHOLE_FOLDER_MODELS else _checkpoint_in(folder)
    return checkpoint, configs[0], item, home / "voices"


def _resolve(model: str) -> tuple[Path, Path, dict[str, Any], Path | None]:
    """(checkpoint, config.json, catalogue entry or {}, voice folder or None) for a folder, file or catalogue name."""
    if not model.strip():
        raise UsageError("no Coqui model chosen: set model= (narrator option or voice preset) to a folder or a "
                         "catalogue name like 'tts_models/en/ljspeech/vits'")
    path = Path(model).expanduser()
    if path.exists():
        return (*_local(path), {}, None)
    if model.startswith(("tts_models/", "vocoder_models/")):
        return _catalogue(model)
    raise UsageError(f"the Coqui model {model!r} is neither an existing folder or file nor a catalogue name "
                     f"like 'tts_models/en/ljspeech/vits'")


@functools.lru_cache(maxsize=4)
def _engine(model: str, vocoder: str, device: str):  # type: ignore[no-untyped-def]
    synthesizer = _synthesizer_class()
    use_cuda = _device(device) == "cuda"
    checkpoint, config, item, voices = _resolve(model)
    vocoder_name = vocoder or item.get("default_vocoder") or ""
    vocoder_files = _resolve(vocoder_name)[:2] if vocoder_name else (None, None)
    try:
        return synthesizer(tts_checkpoint=checkpoint, tts_config_path=config, vocoder_checkpoint=vocoder_files[0],
                           vocoder_config=vocoder_files[1], voice_dir=voices, use_cuda=use_cuda)
    except FileNotFoundError as err:
        if err.filename:
            raise UsageError(f"the Coqui model {checkpoint} needs {err.filename}, which does not exist; put it "
                             f"there or fix its path in {config}") from None
        raise UsageError(f"coqui-tts cannot load {checkpoint}: {err}") from None
    except ImportError as err:
        raise MissingDependency(f"the Coqui model {checkpoint} needs a package that is not installed: {err}") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"{config} is not valid JSON ({err}); restore the model's original config.json") from None
    except ValueError as err:
        raise UsageError(f"coqui-tts cannot load {checkpoint} with {config}: {err}") from None
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        if "state_dict" in first:
            raise UsageError(f"the checkpoint {checkpoint} does not match {config} ({first}); use the config.json "
                             f"it was trained with") from None
        if isinstance(err, RuntimeError) and not any(s in first for s in ("PytorchStreamReader", "zip", "corrupt")):
            raise BackendError(f"coqui-tts failed to load {checkpoint}: {first}") from err
        raise UsageError(f"the checkpoint {checkpoint} cannot be read ({first}); it is corrupt or incomplete: fetch "
                         f"or export it again") from None


def speakers(synth: Any) -> tuple[list[str], bool]:
    """A loaded model's speaker names, and whether it needs one chosen (several speakers, or voice cloning)."""
    model = synth.tts_model
    manager = getattr(model, "speaker_manager", None)
    names = list(manager.speaker_names) if manager is not None else []
    cloning = bool(getattr(model.config, "supports_cloning", False))
    if cloning and hasattr(model, "get_voices"):
        names += [v for v in model.get_voices(synth.voice_dir) if v not in names]
    return names, cloning or len(names) > 1


def languages(synth: Any) -> list[str]:
    """A loaded model's language names (one or none for a single-language model)."""
    manager = getattr(synth.tts_model, "language_manager", None)
    return list(manager.language_names) if manager is not None else []


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")


def _check_voice(synth: Any, model: str, speaker: str, language: str) -> str | None:
    names, multi = speakers(synth)
    if speaker and speaker not in names:
        if not multi:
            raise UsageError(f"the Coqui model {model!r} has a single speaker; remove speaker={speaker!r} from the "
                             f"voice preset or the narrator options")
        raise UsageError(f"the Coqui model {model!r} has no speaker {speaker!r}; speakers: {_listed(names)}")
    if multi and not speaker:
        raise UsageError(f"the Coqui model {model!r} has several speakers; set speaker= in the voice preset or the "
                         f"narrator options to one of: {_listed(names)}")
    langs = languages(synth)
    if len(langs) > 1:
        if language not in langs:
            what = f"has no language {language!r}" if language else "is multi-lingual; set language= to one of"
            raise UsageError(f"the Coqui model {model!r} {what}: {_listed(langs)}")
        return language
    if language and language not in langs:
        raise UsageError(f"the Coqui model {model!r} speaks only {_listed(langs) or 'one language'}; "
                         f"remove language={language!r}")
    return None


@contextlib.contextmanager
def _paced(model: Any, speed: float):  # type: ignore[no-untyped-def]
    """Scale the model's predicted durations (VITS, Glow-TTS, FastPitch...) for one call."""
    base = model.length_scale
    model.length_scale = base / speed
    try:
        yield
    finally:
        model.length_scale = base


def _stretch(samples: np.ndarray, rate: int, speed: float) -> np.ndarray:
    """Change tempo, keeping pitch (for models with no duration control), through ffmpeg's rubberband."""
    from ..ffmpeg_exe import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(rate), "-ac", "1",
           "-i", "pipe:0", "-af", f"rubberband=tempo={speed:.6f}", "-f", "f32le", "-ar", str(rate), "-ac", "1",
           "pipe:1"]
    proc = subprocess.run(cmd, input=samples.astype("<f4").tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise BackendError(f"ffmpeg rubberband failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


class CoquiNarrator(Narrator):
    """coqui-tts: VITS, XTTS, Tacotron and other Coqui models from a local folder or Coqui's model folder."""

    name = "coqui"
    version = "1"
    description = "Coqui TTS models (coqui-tts): a local folder or a catalogue model already downloaded"
    Options = CoquiOptions
    requires = ("TTS", "torch", "torchaudio")
    extra = "coqui"
    uses_gpu = True
    sample_rate = 22050  # the usual rate; each model's output_sample_rate is the rate of its audio

    def synthesizer(self, voice: VoicePreset) -> Any:
        """The loaded (cached) Coqui Synthesizer for this voice."""
        o = self.options
        return _engine(voice.model or o.model, o.vocoder, o.device)

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence at the preset's speed times the line's pace, in the preset's (or options') speaker, at the
        model's output rate."""
        import torch
        from TTS.utils.synthesizer import PAD_SILENCE_SAMPLES

        o = self.options
        synth = self.synthesizer(voice)
        speaker = voice.speaker or o.speaker
        language = _check_voice(synth, voice.model or o.model, speaker, o.language)
        rate = int(synth.output_sample_rate)
        speed = max(0.5, min(2.0, voice.speed * pace))
        model = synth.tts_model
        kwargs: dict[str, Any] = {}
        scaled = hasattr(model, "length_scale")
        if not scaled and "speed" in inspect.signature(model.inference).parameters:
            kwargs["speed"] = speed
        devices = [torch.cuda.current_device()] if synth.use_cuda else []
        with _LOCK, torch.random.fork_rng(devices=devices), \
                (_paced(model, speed) if scaled else contextlib.nullcontext()):
            torch.manual_seed(o.variation_seed)
            wav = synth.tts(sentence, speaker_name=speaker or None, language_name=language, split_sentences=False,
                            **kwargs)
        samples = np.asarray(wav, dtype=np.float32).reshape(-1)
        if len(samples) > PAD_SILENCE_SAMPLES and not samples[-PAD_SILENCE_SAMPLES:].any():
            samples = samples[:-PAD_SILENCE_SAMPLES]
        if not scaled and "speed" not in kwargs and abs(speed - 1.0) > 1e-3:
            samples = _stretch(samples, rate, speed)
        return Audio(samples, rate)
