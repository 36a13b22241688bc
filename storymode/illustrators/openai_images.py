"""The ``openai`` illustrator: pictures from an OpenAI-shaped Images API (``POST /v1/images/generations``) through
the official SDK (``storymode.openai_api``): OpenAI itself (gpt-image-1, dall-e-3, dall-e-2), Azure OpenAI
deployments (``api_version`` and ``deployment``), and local servers that speak the same API.

- Prompt: the shared builder (``prompting.build_prompt``), so a character is described the same way in every scene
  and by every model illustrator. OpenAI's models read the prompt in characters (1000 for dall-e-2, 4000 for
  dall-e-3, far more for gpt-image), so the builder cuts to that; any other model gets the CLIP limit, since most
  local servers run CLIP-encoded pipelines. The API has no negative prompt and no seed: the drawn record says so,
  and a redraw may differ.
- Size: ``size=auto`` asks for the size the model accepts nearest the request's shape (gpt-image-1: 1024x1024,
  1536x1024, 1024x1536; dall-e-3: 1024x1024, 1792x1024, 1024x1792; dall-e-2: 256, 512 or 1024 squares; any other
  model: the request's size rounded up to multiples of 64), then scales and centre-crops the answer to the
  request's width x height. The request already holds the composer's zoom margin (``timeline.with_zoom_margin``),
  as for the diffusers illustrator, so the margin is kept.
- Reply: gpt-image models always answer base64; other models are asked for ``b64_json``. A server that answers
  with a ``url`` anyway is read only when the URL is on the server's own host: nothing is downloaded from
  anywhere else.
- Retries with backoff (honouring Retry-After) and the timeout are the SDK's (options max_retries, timeout);
  ``concurrency`` bounds the requests in flight, and ``illustrate_each`` / ``illustrate_many`` draw several scenes
  at once within it (``illustrate`` draws one).
- A content-policy refusal names its scene; ``on_refusal=storybook`` draws that scene with the storybook
  illustrator instead (``fallback.storybook_fallback``), says so in a warning, and records it in the drawn record as a
  screen result: ``"screen": {"by": "openai content policy", "outcome": "fallback"}``.
"""
from __future__ import annotations

import base64
import binascii
import io
import math
import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from ..errors import BackendError, UsageError
from ..openai_api import (ContentRefused, EndpointOptions, explain, make_client, public_options, redact_url,
                          scrub)
from .base import Illustration, IllustrationRequest, Illustrator, read_capped
from .fallback import ContentFallbackWarning as ContentFallbackWarning  # re-exported: it was first defined here
from .fallback import storybook_credit_lines, storybook_fallback
from .prompting import IllustrationPrompt, build_prompt

if TYPE_CHECKING:
    import openai
    from PIL import Image

# the sizes each OpenAI model family accepts (width, height)
MODEL_SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "gpt-image": ((1024, 1024), (1536, 1024), (1024, 1536)),
    "dall-e-3": ((1024, 1024), (1792, 1024), (1024, 1792)),
    "dall-e-2": ((256, 256), (512, 512), (1024, 1024)),
}
# prompt limits in characters (gpt-image reads 32000; the prompt builder counts at most 4096, far above our prompts)
PROMPT_CHARS = {"gpt-image": 4000, "dall-e-3": 4000, "dall-e-2": 1000}
OTHER_MODEL_MULTIPLE = 64
MAX_PICTURE_BYTES = 64 * 1024 * 1024
NO_SEED = "none: the Images API takes no seed, so a redraw may differ"
REFUSAL_SCREEN = "openai content policy"  # the screen named in a refused scene's drawn record


def model_family(model: str) -> str | None:
    """The OpenAI model family whose sizes and limits apply ('gpt-image', 'dall-e-3', 'dall-e-2'), or None."""
    name = model.strip().lower()
    if name.startswith("gpt-image"):
        return "gpt-image"
    return name if name in MODEL_SIZES else None


def api_size(model: str, width: int, height: int) -> tuple[int, int]:
    """The size to ask the model for, for a width x height picture: the accepted size nearest in shape (then the
    smallest that covers the picture, else the largest); any other model: the size rounded up to multiples of 64."""
    family = model_family(model)
    if family is None:
        return (OTHER_MODEL_MULTIPLE * math.ceil(width / OTHER_MODEL_MULTIPLE),
                OTHER_MODEL_MULTIPLE * math.ceil(height / OTHER_MODEL_MULTIPLE))
    shape = math.log(width / height)

    def rank(size: tuple[int, int]) -> tuple[float, bool, int]:
        covers = size[0] >= width and size[1] >= height
        return (round(abs(math.log(size[0] / size[1]) - shape), 6), not covers,
                size[0] * size[1] if covers else -size[0] * size[1])

    return min(MODEL_SIZES[family], key=rank)


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """The picture scaled to cover width x height and cropped about its centre (nothing stretched)."""
    import cv2
    import numpy as np
    from PIL import Image

    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    scaled_w, scaled_h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
    # OpenCV, as the composer uses: area averaging down, bicubic up; several times faster than Pillow's filters here
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    pixels = cv2.resize(np.asarray(image.convert("RGB")), (scaled_w, scaled_h), interpolation=method)
    left, top = (scaled_w - width) // 2, (scaled_h - height) // 2
    return Image.fromarray(np.ascontiguousarray(pixels[top:top + height, left:left + width]))


def _opaque(image: Image.Image) -> Image.Image:
    """An RGB picture; a transparent background becomes white, not black."""
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        page = Image.new("RGB", rgba.size, (255, 255, 255))
        page.paste(rgba, mask=rgba.getchannel("A"))
        return page
    return image.convert("RGB")


def decode_picture(data: bytes, where: str) -> Image.Image:
    """The picture in data, fully read; BackendError when it is not a whole picture."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return _opaque(img)
    except UnidentifiedImageError:
        why = f"no picture format Pillow reads; it starts {data[:24]!r}"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        why = " ".join(str(err).split())[:120]
    raise BackendError(f"{where}: the server's reply is not a readable picture ({len(data)} bytes: {why})")


class _CharacterCount:
    """A stand-in tokenizer for the prompt builder that counts characters (the Images API's limits are in
    characters)."""

    def __init__(self, limit: int) -> None:
        self.model_max_length = limit

    def __call__(self, text: str, truncation: bool = False) -> dict[str, range]:
        """One 'token' per character."""
        return {"input_ids": range(len(text))}


@dataclass(frozen=True)
class _Answer:
    """One picture as the API gave it."""

    image: Image.Image
    asked: dict[str, Any]
    answered_as: str
    revised_prompt: str | None


class OpenAIImagesIllustrator(Illustrator):
    """Pictures from an OpenAI-compatible Images API (OpenAI, Azure OpenAI, local servers)."""

    name = "openai"
    version = "1"
    description = "an OpenAI-compatible Images API: OpenAI (gpt-image-1, dall-e-3), Azure OpenAI, local servers"
    requires = ("openai",)
    credits = ("Pictures made by {model} through an OpenAI-compatible Images API",)

    class Options(EndpointOptions):
        """The endpoint's options (openai_api.EndpointOptions) and what to ask the Images API for."""

        model: str = Field("gpt-image-1", min_length=1, max_length=200,
                           description="gpt-image-1, dall-e-3, dall-e-2, or the model name the server knows")
        size: str = Field("auto", pattern=r"^(auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4})$",
                          description="auto: the accepted size nearest the frame; or WIDTHxHEIGHT as sent")
        quality: str | None = Field(None, pattern=r"^[a-z]{1,20}$",
                                    description="passed through when set (gpt-image-1: low, medium, high, auto; "
                                                "dall-e-3: standard, hd)")
        response_format: Literal["auto", "b64_json", "url"] = Field(
            "auto", description="auto: b64_json, not sent to gpt-image models (they always answer base64)")
        concurrency: int = Field(2, ge=1, le=16, description="requests in flight at once")
        on_refusal: Literal["fail", "storybook"] = Field(
            "fail", description="a scene refused on content policy: fail, or draw it with the storybook illustrator")

    def __init__(self, options: EndpointOptions | None = None) -> None:
        super().__init__(options)
        self._check_options()
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(self.options.concurrency)

    @property
    def model(self) -> str:
        """The model asked for."""
        return self.options.model

    def _check_options(self) -> None:
        opts = self.options
        family = model_family(opts.model)
        if family == "gpt-image" and opts.response_format != "auto":
            raise UsageError(f"openai illustrator: {opts.model} always answers base64 and takes no "
                             f"response_format; drop -o response_format")
        if family and opts.size != "auto":
            accepted = [f"{w}x{h}" for w, h in MODEL_SIZES[family]]
            if opts.size not in accepted:
                raise UsageError(f"openai illustrator: {opts.model} draws {', '.join(accepted)}, not {opts.size}; "
                                 f"pass one of those or -o size=auto")

    # ------------------------------------------------------------ what identifies the output
    def fingerprint(self) -> dict:
        """Backend, version and the options that change a picture (never the key, nor how requests are sent)."""
        shown = public_options(self.options)
        for name in ("concurrency", "on_refusal"):
            shown.pop(name, None)
        return {"backend": f"{self.stage}.{self.name}", "version": self.version, "options": shown, "seed": NO_SEED}

    def credit_lines(self) -> list[str]:
        """The model's credit, and the storybook's when refused scenes may be drawn by it."""
        lines = super().credit_lines()
        if self.options.on_refusal == "storybook":
            lines += [line for line in storybook_credit_lines() if line not in lines]
        return lines

    # ------------------------------------------------------------ drawing
    def illustrate(self, request: IllustrationRequest) -> Illustration:
        """The picture for one scene."""
        return self.illustrate_many([request])[0]

    def illustrate_many(self, requests: Sequence[IllustrationRequest]) -> list[Illustration]:
        """The pictures for several scenes, in their order, with up to ``concurrency`` requests in flight."""
        return list(self.illustrate_each(requests))

    def illustrate_each(self, requests: Sequence[IllustrationRequest]) -> Iterator[Illustration]:
        """The pictures for several scenes, yielded in their order as each is ready, with up to ``concurrency``
        requests in flight.

        Prompts are built, and warnings raised, in the caller's thread. A failing scene raises when its turn comes,
        after the scenes before it were yielded; requests not yet sent are then dropped."""
        requests = list(requests)
        prompts = [self._prompt(request) for request in requests]
        if len(requests) <= 1:
            for request, prompt in zip(requests, prompts):
                yield self._illustration(request, prompt, self._ask(request, prompt))
            return
        with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(requests)),
                                thread_name_prefix="storymode-images") as pool:
            futures = [pool.submit(self._ask, request, prompt) for request, prompt in zip(requests, prompts)]
            try:
                for request, prompt, future in zip(requests, prompts, futures):
                    yield self._illustration(request, prompt, future.result())
            finally:
                for future in futures:
                    future.cancel()

    def _prompt(self, request: IllustrationRequest) -> IllustrationPrompt:
        family = model_family(self.model)
        counter = _CharacterCount(PROMPT_CHARS[family]) if family else None
        return build_prompt(request.brief, request.cast, request.style, story_seed=request.seed,
                            scene_index=request.scene_index, tokenizer=counter,
                            scene_label=_scene(request))

    def _ask(self, request: IllustrationRequest, prompt: IllustrationPrompt) -> _Answer | ContentRefused:
        """One scene's picture from the API, or its content-policy refusal (other failures raise)."""
        import openai

        where = _scene(request)
        asked = self._asked(request)
        params = {key: value for key, value in asked.items() if value is not None}
        client = self._api()
        try:
            with self._in_flight:
                reply = client.images.generate(prompt=prompt.prompt, **params)
        except openai.OpenAIError as err:
            failure = self._explain(err, where)
            if isinstance(failure, ContentRefused):
                return failure
            raise failure from None
        return self._answer(reply, asked, where)

    def _answer(self, reply: Any, asked: dict[str, Any], where: str) -> _Answer:
        """The picture in the API's reply: its base64, or its url on the server's own host."""
        item = (getattr(reply, "data", None) or [None])[0]
        if item is None:
            raise BackendError(f"{where}: the server at {redact_url(self.options.base_url)} answered without a "
                               f"picture")
        if item.b64_json:
            data, answered_as = self._from_base64(item.b64_json, where), "b64_json"
        elif item.url:
            data, answered_as = self._download(item.url, where), "url"
        else:
            raise BackendError(f"{where}: the server's answer holds neither b64_json nor url")
        try:
            image = decode_picture(data, where)
        except BackendError as err:  # its message quotes the reply's first bytes
            raise BackendError(scrub(str(err), self.options)) from None
        return _Answer(image, asked, answered_as, item.revised_prompt)

    def _asked(self, request: IllustrationRequest) -> dict[str, Any]:
        """The request's parameters besides the prompt (None: not sent)."""
        opts = self.options
        if request.width < 1 or request.height < 1:
            raise UsageError(f"{_scene(request)}: cannot draw a {request.width}x{request.height} picture")
        if opts.size == "auto":
            width, height = api_size(opts.model, request.width, request.height)
            size = f"{width}x{height}"
        else:
            size = opts.size
        response_format: str | None = opts.response_format
        if response_format == "auto":
            response_format = None if model_family(opts.model) == "gpt-image" else "b64_json"
        return {"model": opts.model, "size": size, "quality": opts.quality, "response_format": response_format}

    def _api(self) -> openai.OpenAI:
        """The SDK client, made once (the key is read from the environment then)."""
        with self._client_lock:
            if self._client is None:
                self._client = make_client(self.options)
                weakref.finalize(self, self._client.close)  # its connections end with this illustrator
            return self._client

    def _explain(self, err: Exception, where: str) -> BackendError:
        """explain()'s message, with the scene, and how often a broken reply or a server error was retried."""
        import httpx
        import openai

        failure = explain(err, self.options, f"{where}: the openai illustrator ({self.model})", self.model)
        cause = err.__cause__ or err.__context__
        broken = isinstance(cause, httpx.RemoteProtocolError) or type(cause).__name__ == "RemoteProtocolError"
        if isinstance(err, openai.APIConnectionError) and not isinstance(err, openai.APITimeoutError) and broken:
            return BackendError(f"{where}: the reply from {redact_url(self.options.base_url)} broke off before its "
                                f"end (after {self.options.max_retries} retries)")
        if isinstance(err, openai.InternalServerError):
            return BackendError(f"{failure}; gave up after {self.options.max_retries} retries (option max_retries)")
        return failure

    @staticmethod
    def _from_base64(text: str, where: str) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BackendError(f"{where}: the server's b64_json is not base64") from None

    def _download(self, url: str, where: str) -> bytes:
        """The picture at url, read only when it is on the API server's own host."""
        import httpx

        target, base = urlsplit(url), urlsplit(self.options.base_url)
        if not _same_host(target, base):
            shown = target.hostname or url[:40]
            raise BackendError(f"{where}: the server answered with a picture on another host ({shown}); storymode "
                               f"downloads nothing from outside {base.hostname}: use a server that returns the "
                               f"picture itself (b64_json) or one that serves it from its own host")
        try:
            with httpx.Client(trust_env=False, follow_redirects=False, timeout=self.options.timeout) as http, \
                    http.stream("GET", url) as reply:
                if reply.status_code != 200:
                    raise BackendError(f"{where}: fetching the picture from {base.hostname} answered HTTP "
                                       f"{reply.status_code}")
                return read_capped(reply, MAX_PICTURE_BYTES, f"{where}: the picture at {base.hostname} is over "
                                                             f"{MAX_PICTURE_BYTES // 2 ** 20} MiB")
        except httpx.HTTPError as err:
            raise BackendError(f"{where}: fetching the picture from {base.hostname} failed "
                               f"({type(err).__name__})") from None

    # ------------------------------------------------------------ the result
    def _illustration(self, request: IllustrationRequest, prompt: IllustrationPrompt,
                      answer: _Answer | ContentRefused) -> Illustration:
        if isinstance(answer, ContentRefused):
            return self._refused(request, prompt, answer)
        image = cover(answer.image, request.width, request.height)
        drawn = {
            "backend": "openai",
            "model": self.model,
            "endpoint": redact_url(self.options.base_url),
            "deployment": self.options.deployment,
            "asked": answer.asked,
            "answered_as": answer.answered_as,
            "prompt": prompt.prompt,
            "revised_prompt": answer.revised_prompt,
            "negative_prompt": "",  # the Images API takes none
            "seed": None,
            "seed_note": NO_SEED,
            "style": prompt.style,
            "size": [request.width, request.height],
            "generated_size": list(answer.image.size),
            "characters": {s.id: s.text for s in prompt.subjects},
            "prompt_length": prompt.tokens,
            "prompt_cut": list(prompt.cut),
            "sprites": {},
            "undrawn": [],
        }
        return Illustration(image=image, drawn=drawn)

    def _refused(self, request: IllustrationRequest, prompt: IllustrationPrompt,
                 refused: ContentRefused) -> Illustration:
        """A refused scene: the error, or (on_refusal=storybook) the storybook's picture, said in a warning."""
        if self.options.on_refusal == "fail":
            raise ContentRefused(f"{refused}; change that scene's illustration brief in story.json, or pass "
                                 f"-o on_refusal=storybook to draw it with the storybook illustrator") from None
        picture = storybook_fallback(request, "openai", "the Images API refused the picture on content policy")
        drawn = {**picture.drawn, "refused": str(refused), "model": self.model, "prompt": prompt.prompt,
                 "asked": self._asked(request), "screen": {"by": REFUSAL_SCREEN, "outcome": "fallback"}}
        return Illustration(image=picture.image, drawn=drawn)


def _scene(request: IllustrationRequest) -> str:
    return f"scene {request.scene_index + 1}"


def _same_host(target: Any, base: Any) -> bool:
    """Whether two split URLs name the same host and port (http or https only)."""
    def port(parts: Any) -> int | None:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)

    return (target.scheme in ("http", "https") and bool(target.hostname)
            and target.hostname == base.hostname and port(target) == port(base))
