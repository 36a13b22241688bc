"""The narrator named ``openai``: any server that speaks the OpenAI speech API (``POST /v1/audio/speech``): OpenAI's
TTS, Azure OpenAI, and the local servers that copy it (Kokoro-FastAPI, LocalAI, openedai-speech, local-tts-studio).

    storymode make "a shy fox" --narrator openai -o base_url=http://127.0.0.1:8880/v1 -o voice=af_heart

Each sentence is one request through the shared client (storymode.openai_api); the WAV or raw PCM reply is decoded
here, and the base Narrator does the rest (pauses, pitch, loudness, timings), as for every other narrator. A voice
preset with ``backend = "openai"`` names its API voice in ``speaker`` (and may name a model in ``model``): it wins
over the options, so each character can have a voice of its own."""
from __future__ import annotations

import struct
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from ..cast import VoicePreset
from ..errors import BackendError
from ..openai_api import EndpointOptions, explain, public_options, redact_url, scrub
from .base import Audio, Narrator

if TYPE_CHECKING:
    import openai

PCM_RATE = 24000  # what the OpenAI speech API documents for response_format "pcm": 24 kHz, 16-bit, mono
SPEED_RANGE = (0.25, 4.0)  # what the API accepts
_FLOAT_FORMAT, _PCM_FORMAT, _EXTENSIBLE = 3, 1, 0xFFFE
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # a streamed WAV's header: the data runs to the end of the reply


class OpenAISpeechOptions(EndpointOptions):
    """Options of the openai narrator: where the server is, and the model, voice, format and speed it is asked for."""

    model: str = Field("tts-1", min_length=1, max_length=200,
                       description="the speech model (tts-1, tts-1-hd, gpt-4o-mini-tts, or the server's own; "
                                   "many local servers ignore it)")
    voice: str = Field("alloy", min_length=1, max_length=200,
                       description="the API voice (alloy, nova, af_heart, ...); a preset's speaker wins")
    response_format: Literal["wav", "pcm"] = Field("wav", description="wav, or pcm (raw 16-bit mono at 24 kHz, "
                                                                      "or the rate the server's X-Sample-Rate says)")
    speed: float = Field(1.0, ge=SPEED_RANGE[0], le=SPEED_RANGE[1],
                         description="speaking speed, times the preset's speed and the line's pace")


class OpenAISpeechNarrator(Narrator):
    """Speaks through an OpenAI-compatible speech API, one request per sentence."""

    name = "openai"
    version = "1"
    description = "any OpenAI-compatible speech API (OpenAI, Azure, Kokoro-FastAPI, LocalAI, openedai-speech)"
    Options = OpenAISpeechOptions
    requires = ("openai",)
    extra = None
    credits = ("Voices: {model} via an OpenAI-compatible speech API",)
    options: OpenAISpeechOptions

    def fingerprint(self) -> dict:
        """Backend, version and options as they change the sound: no key, no timeout or retries, no URL password."""
        return {"backend": f"{self.stage}.{self.name}", "version": self.version,
                "options": public_options(self.options)}

    @cached_property
    def client(self) -> openai.OpenAI:
        """The SDK client, made at the first request (it reads the key from the environment then)."""
        from ..openai_api import make_client

        return make_client(self.options)

    def request(self, sentence: str, voice: VoicePreset, pace: float) -> dict[str, Any]:
        """The speech request for one sentence: the preset's API voice and model win over the options."""
        speed = self.options.speed * voice.speed * pace
        return {"model": voice.model or self.options.model, "voice": voice.speaker or self.options.voice,
                "input": sentence, "response_format": self.options.response_format,
                "speed": round(min(SPEED_RANGE[1], max(SPEED_RANGE[0], speed)), 3)}

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence from the server, decoded; a failed request or a reply that is not audio is a BackendError."""
        import openai

        params = self.request(sentence, voice, pace)
        what = f"the openai narrator (voice {params['voice']!r}, model {params['model']!r})"
        try:
            reply = self.client.audio.speech.create(**params)
        except openai.OpenAIError as err:
            raise self._failure(err, what, params) from None
        headers = reply.response.headers
        try:
            return decode_speech(reply.content, params["response_format"], headers.get("content-type", ""),
                                 headers.get("x-sample-rate"))
        except NotAudio as err:
            where = redact_url(self.options.base_url)
            raise BackendError(scrub(f"{what}: the server at {where} answered, but not with audio: {err}",
                                     self.options)) from None

    def _failure(self, err: Exception, what: str, params: dict[str, Any]) -> BackendError:
        """explain()'s message, with what a speech request adds: a reply cut off, or which voice to check."""
        import openai

        where = redact_url(self.options.base_url)
        if isinstance(err, openai.APIConnectionError) and _cut_off(err):
            return BackendError(f"{what}: the reply from {where} was cut off before its end "
                                f"(after {self.options.max_retries} retries); is the server or a proxy failing?")
        failure = explain(err, self.options, what, model=params["model"])
        if isinstance(err, openai.APIStatusError) and err.status_code in (400, 404, 422) and \
                type(failure) is BackendError:
            return BackendError(f"{failure}; does the server have voice {params['voice']!r} and model "
                                f"{params['model']!r}? (options voice, model, or the preset's speaker)")
        return failure


class NotAudio(ValueError):
    """A speech reply that cannot be decoded as the audio format asked for."""


def _cut_off(err: Exception) -> bool:
    """Whether the connection error was a reply that ended early (its body shorter than it said)."""
    cause: BaseException | None = err
    while cause is not None:
        if type(cause).__name__ in ("RemoteProtocolError", "IncompleteRead", "ReadError"):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def decode_speech(data: bytes, response_format: str, content_type: str = "", rate_header: str | None = None) -> Audio:
    """A speech reply as Audio: a WAV file, or raw 16-bit mono PCM (24 kHz unless the server's X-Sample-Rate says
    otherwise); NotAudio for an HTML or JSON page, an empty reply or a cut-off WAV."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("text/") or kind.endswith("json") or _is_text(data):
        raise NotAudio(f"{kind or 'a reply'} starting {_preview(data)}")
    if data[:4] == b"RIFF":  # a server may send WAV whatever was asked
        return decode_wav(data)
    if response_format == "wav":
        raise NotAudio(f"{kind or 'a reply'} that is not a WAV file, starting {_preview(data)}")
    return decode_pcm(data, _rate(rate_header))


def _rate(header: str | None) -> int:
    """The PCM rate: the server's X-Sample-Rate header when it gives a sane one, else the API's 24 kHz."""
    try:
        rate = int(header or PCM_RATE)
    except ValueError:
        return PCM_RATE
    return rate if 8000 <= rate <= 192000 else PCM_RATE


def _is_text(data: bytes) -> bool:
    """Whether a reply begins as printable text (an error page sent with an audio type): sound never does."""
    head = data[:256]
    return bool(head) and all(32 <= byte < 127 or byte in (9, 10, 13) for byte in head)


def _preview(data: bytes) -> str:
    """The first bytes of a reply, as a short quoted text."""
    text = " ".join(data[:80].decode("utf-8", errors="replace").split())
    return repr(text) if text else "(empty)"


def decode_pcm(data: bytes, rate: int = PCM_RATE) -> Audio:
    """Raw little-endian 16-bit mono samples as Audio; an odd byte count or nothing at all is NotAudio."""
    if not data:
        raise NotAudio("an empty reply")
    if len(data) % 2:
        raise NotAudio(f"{len(data)} bytes of 16-bit PCM: an odd count, so the reply was cut")
    return Audio(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, rate)


def decode_wav(data: bytes) -> Audio:
    """A RIFF/WAVE file (PCM 8/16/24/32-bit or float 32/64-bit, any channels, mixed to mono) as Audio."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NotAudio(f"not a WAV file, starting {_preview(data)}")
    fmt: tuple[int, int, int, int] | None = None
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = at + 8
        if chunk == b"fmt ":
            fmt = _wav_format(data[body:body + size])
        elif chunk == b"data":
            if fmt is None:
                raise NotAudio("a WAV file whose data comes before its format")
            end = len(data) if size in _UNKNOWN_SIZES else body + size
            if end > len(data):
                raise NotAudio(f"a WAV file cut short: {len(data) - body} of {size} data bytes")
            return _wav_samples(data[body:end], *fmt)
        at = body + size + (size & 1)
    raise NotAudio("a WAV file with no audio data")


def _wav_format(chunk: bytes) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits) of a WAV fmt chunk; the extensible form's real format is read."""
    if len(chunk) < 16:
        raise NotAudio("a WAV file with a broken format chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", chunk)
    if tag == _EXTENSIBLE and len(chunk) >= 26:
        tag = struct.unpack_from("<H", chunk, 24)[0]
    if tag not in (_PCM_FORMAT, _FLOAT_FORMAT) or not channels or bits not in (8, 16, 24, 32, 64):
        raise NotAudio(f"a WAV file in a format storymode does not read (tag {tag}, {bits}-bit)")
    if not 8000 <= rate <= 192000:
        raise NotAudio(f"a WAV file at {rate} Hz")
    return tag, channels, rate, bits


def _wav_samples(raw: bytes, tag: int, channels: int, rate: int, bits: int) -> Audio:
    """The data chunk's frames as mono float32 Audio."""
    width = bits // 8
    raw = raw[: len(raw) // (width * channels) * width * channels]  # a streamed reply may end mid-frame
    if not raw:
        raise NotAudio("a WAV file with no samples")
    if tag == _FLOAT_FORMAT:
        samples = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
    elif bits == 8:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif bits == 24:
        trios = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        signed = (trios[:, 0] | trios[:, 1] << 8 | trios[:, 2] << 16) << 8 >> 8
        samples = signed.astype(np.float32) / 8388608.0
    else:
        samples = np.frombuffer(raw, f"<i{width}").astype(np.float32) / float(2 ** (bits - 1))
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return Audio(np.nan_to_num(samples), rate)
