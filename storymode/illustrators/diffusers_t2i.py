"""The diffusers illustrator: any text-to-image pipeline (a hub id or a local folder) through
``AutoPipelineForText2Image``, with presets for SD-Turbo, SDXL-Turbo, FLUX.1-schnell and SD 1.5.

- Loads only from the local files (the Hugging Face cache or a folder) unless ``allow_download=true``.
- The pipeline is loaded once per illustrator instance; torch and diffusers are imported inside methods only.
- Prompts come from the shared builder (``prompting.build_prompt``): style preset, the characters in the
  picture with their fixed descriptions, cut to the tokenizer's limit with a warning.
- Seeds: the scene seed comes from the story seed, the scene index and the brief's picture variant
  (``prompting.scene_seed``; variant 0 is the scene's default picture), drawn on a
  CPU ``torch.Generator``, so a scene redraws the same on any device; ``seed_from=lead`` uses the first
  pictured character's fixed seed instead.
- Size: by default the picture is generated at exactly ``request.width x request.height``, which must be
  multiples of 8 (a UsageError names the size otherwise; nothing is silently changed). The pipeline asks for
  the frame plus the zoom margin (``timeline.with_zoom_margin``: each side times 1.13, the timeline's deepest
  slow zoom, rounded up to a multiple of 8). ``size=native`` generates at the model's native pixel area in the
  request's aspect (better for 512-pixel models) and resizes to the requested size; that is recorded in
  ``drawn["generated_size"]``.
- Screening (``safety_checker``): ``auto`` uses the pipeline's own safety checker when it has one (its output's
  ``nsfw_content_detected``), else ``CompVis/stable-diffusion-safety-checker`` when it is in the local cache, else
  none, said once per run in an ``UnscreenedWarning``; ``off`` screens nothing (and turns the pipeline's own
  checker off, which would otherwise black pictures out); a folder or hub id names the checker, which then replaces
  the pipeline's own. A flagged picture is never saved nor returned: it is redrawn with another seed
  (``redraw_seed``) up to ``redraws`` times, and when every seed is flagged the scene is drawn by the storybook
  illustrator, said in a ``ContentFallbackWarning``. ``drawn["screen"]`` records the checker, the flagged seeds and
  the outcome (passed, redrawn, fallback or unscreened).
"""
from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..backend import BackendOptions
from ..hub import offline_unless
from ..errors import BackendError, UsageError
from ..safety.pictures import (DEFAULT_CHECKER, GET_CHECKER, PictureScreen, PictureVerdict, SafetyCheckerScreen,
                               checker_folder, installed_safety_checker)
from .base import Illustration, IllustrationRequest, Illustrator
from .fallback import storybook_credit_lines, storybook_fallback
from .prompting import IllustrationPrompt, build_prompt

PRESETS: dict[str, dict[str, Any]] = {
    # model id, steps, guidance, native side (pixels), preferred CUDA dtype, takes a negative prompt
    "sd-turbo": {"model": "stabilityai/sd-turbo", "steps": 1, "guidance": 0.0, "native": 512, "dtype": "float16"},
    "sdxl-turbo": {"model": "stabilityai/sdxl-turbo", "steps": 1, "guidance": 0.0, "native": 512,
                   "dtype": "float16"},
    "flux-schnell": {"model": "black-forest-labs/FLUX.1-schnell", "steps": 4, "guidance": 0.0, "native": 1024,
                     "dtype": "bfloat16"},
    "sd15": {"model": "stable-diffusion-v1-5/stable-diffusion-v1-5", "steps": 25, "guidance": 7.5,
             "native": 512, "dtype": "float16"},
}


REDRAW_STRIDE = 1_000_003  # a large prime step from the scene seed to each redraw seed
PIPELINE_CHECKER = "pipeline safety checker"
UNSCREENED = f"pictures are not screened: the safety checker is not installed ({GET_CHECKER})"


class UnscreenedWarning(UserWarning):
    """Pictures are drawn without a safety checker, because none is installed (said once per run)."""


def redraw_seed(seed: int, attempt: int) -> int:
    """The seed of a scene's redraw number attempt (0: the scene's own seed), the same on every machine."""
    return (seed + attempt * REDRAW_STRIDE) % 2 ** 32 if attempt else seed


@dataclass(frozen=True)
class _Screening:
    """How pictures are screened in this run: by a PictureScreen, by the pipeline's own checker, or not at all."""

    by: str | None  # what the drawn record names; None: unscreened
    screen: PictureScreen | None = None
    own: bool = False  # the pipeline's own checker, read from its output's nsfw_content_detected


def _round8(x: float) -> int:
    return max(8, int(round(x / 8.0)) * 8)


def native_size(width: int, height: int, native: int) -> tuple[int, int]:
    """The request's aspect at about native x native pixels, both sides multiples of 8."""
    aspect = width / height
    return _round8(native * math.sqrt(aspect)), _round8(native / math.sqrt(aspect))


class DiffusersIllustrator(Illustrator):
    """Pictures from a diffusers text-to-image pipeline (SD-Turbo by default), on GPU when there is one."""

    name = "diffusers"
    version = "1"
    description = "diffusers text-to-image pipelines (SD-Turbo, SDXL-Turbo, FLUX.1-schnell, SD 1.5, any local path)"
    requires = ("torch", "diffusers", "transformers")
    credits = ("Pictures generated with {model} (diffusers)",)
    extra = "hub"
    uses_gpu = True

    class Options(BackendOptions):
        preset: Literal["sd-turbo", "sdxl-turbo", "flux-schnell", "sd15"] = Field(
            "sd-turbo", description="model id, steps, guidance and native size together")
        model: str | None = Field(None, description="a pipeline id or local folder; overrides the preset's model")
        steps: int | None = Field(None, ge=1, le=200, description="inference steps (default: the preset's)")
        guidance: float | None = Field(None, ge=0.0, le=30.0, description="guidance scale (default: the preset's)")
        size: Literal["request", "native"] = Field(
            "request", description="request: generate at the asked size (multiples of 8); native: at the "
                                   "model's native area in the same aspect, then resize")
        device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
        dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
        allow_download: bool = Field(False, description="let diffusers download the model from the hub")
        cpu_offload: bool = Field(False, description="keep parts of the model in RAM until used (less GPU memory)")
        attention_slicing: bool = False
        vae_tiling: bool = False
        ip_adapter: str | None = Field(None, description="IP-Adapter weights (hub id or folder) for references")
        ip_adapter_subfolder: str = "models"
        ip_adapter_weight_name: str = "ip-adapter_sd15.safetensors"
        ip_adapter_scale: float = Field(0.6, ge=0.0, le=1.0)
        references: dict[str, str] = Field(default_factory=dict,
                                           description="character id -> reference image path (needs ip_adapter)")
        seed_from: Literal["scene", "lead"] = Field(
            "scene", description="scene: a seed per scene; lead: the first pictured character's fixed seed")
        safety_checker: str = Field(
            "auto", min_length=1, max_length=1000,
            description=f"auto: the pipeline's own checker, else {DEFAULT_CHECKER} when installed, else none; "
                        f"off; or a safety checker folder or hub id")
        redraws: int = Field(2, ge=0, le=8, description="a flagged picture is redrawn with another seed up to this "
                                                        "many times, then drawn by the storybook illustrator")

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        self._pipe: Any = None
        self._device = "cpu"
        self._dtype = "float32"
        self._screening: _Screening | None = None
        opts = self.options
        if opts.safety_checker not in ("auto", "off"):
            checker_folder(opts.safety_checker)  # a missing checker is said now, before any drawing
        if opts.references and not opts.ip_adapter:
            raise UsageError("diffusers: references need an IP-Adapter: set -o ip_adapter=<hub id or folder> "
                             "(for example h94/IP-Adapter) or drop the references")
        for who, path in opts.references.items():
            if not Path(path).is_file():
                raise UsageError(f"diffusers: the reference image for {who!r} is missing: {path}")

    # ------------------------------------------------------------ settings
    @property
    def preset(self) -> dict[str, Any]:
        return PRESETS[self.options.preset]

    @property
    def model(self) -> str:
        return self.options.model or self.preset["model"]

    def _choose_device(self) -> tuple[str, str]:
        import torch

        opts = self.options
        device = opts.device
        if device == "auto":
            if torch.cuda.is_available():
                device = "cuda"
            elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
                device = "mps"
            else:
                device = "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise UsageError("diffusers: device=cuda was asked for but torch sees no CUDA GPU; use device=auto")
        elif device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UsageError("diffusers: device=mps was asked for but this torch has no MPS; use device=auto")
        dtype = opts.dtype
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else ("float16" if device == "mps" else self.preset["dtype"])
        return device, dtype

    def credit_lines(self) -> list[str]:
        """The model's credit, and the storybook's when flagged scenes may be drawn by it."""
        lines = super().credit_lines()
        if self.options.safety_checker != "off":
            lines += [line for line in storybook_credit_lines() if line not in lines]
        return lines

    # ------------------------------------------------------------ loading (once per instance)
    def pipeline(self) -> Any:
        """The loaded pipeline (loaded on first use, then reused)."""
        if self._pipe is not None:
            return self._pipe
        import torch
        from diffusers import AutoPipelineForText2Image

        opts = self.options
        model = self.model
        local = Path(model).expanduser()
        if local.exists():
            if not local.is_dir() or not (local / "model_index.json").is_file():
                raise UsageError(f"diffusers: {model} is not a diffusers pipeline folder (it has no "
                                 f"model_index.json); give a text-to-image pipeline folder or hub id")
            model = str(local)
        elif model.startswith((".", "/", "~")) or model.count("/") > 1:
            raise UsageError(f"diffusers: the model folder {model} does not exist")
        device, dtype = self._choose_device()
        try:
            with warnings.catch_warnings(), offline_unless(opts.allow_download):
                warnings.simplefilter("ignore", FutureWarning)
                pipe = AutoPipelineForText2Image.from_pretrained(
                    model, torch_dtype=getattr(torch, dtype), local_files_only=not opts.allow_download)
        except ValueError as err:  # AutoPipeline has no text-to-image pipeline for this class
            raise UsageError(f"diffusers: {model} is not a text-to-image pipeline ({err}); give a text-to-image "
                             f"pipeline id or folder, or one of the presets: {', '.join(PRESETS)}") from None
        except (OSError, EnvironmentError) as err:
            if not opts.allow_download and not local.exists():
                raise UsageError(
                    f"diffusers: {model} is not in the local Hugging Face cache and downloads are off; download "
                    f"it once (`hf download {model}`) or pass -o allow_download=true ({err})") from None
            raise UsageError(f"diffusers: cannot load {model}: {err}") from None
        if not callable(pipe) or "prompt" not in inspect.signature(pipe.__call__).parameters:
            raise UsageError(f"diffusers: {model} loaded as {type(pipe).__name__}, which does not take a prompt; "
                             f"give a text-to-image pipeline")
        if opts.cpu_offload and device != "cpu":
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe = pipe.to(device)
        if opts.attention_slicing:
            pipe.enable_attention_slicing()
        if opts.vae_tiling:
            vae = getattr(pipe, "vae", None)
            if vae is not None and hasattr(vae, "enable_tiling"):
                vae.enable_tiling()
            elif hasattr(pipe, "enable_vae_tiling"):
                pipe.enable_vae_tiling()
            else:
                raise UsageError(f"diffusers: {type(pipe).__name__} has no VAE tiling; drop -o vae_tiling")
        if opts.ip_adapter:
            if not hasattr(pipe, "load_ip_adapter"):
                raise UsageError(f"diffusers: {type(pipe).__name__} ({model}) does not support IP-Adapter reference "
                                 f"images; drop -o ip_adapter and the references, or use an SD 1.5 / SDXL pipeline")
            try:
                with offline_unless(opts.allow_download):
                    pipe.load_ip_adapter(opts.ip_adapter, subfolder=opts.ip_adapter_subfolder,
                                         weight_name=opts.ip_adapter_weight_name,
                                         local_files_only=not opts.allow_download)
            except (OSError, ValueError) as err:
                raise UsageError(f"diffusers: cannot load the IP-Adapter {opts.ip_adapter}: {err}") from None
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        self._pipe, self._device, self._dtype = pipe, device, dtype
        return pipe

    # ------------------------------------------------------------ drawing
    def _sizes(self, request: IllustrationRequest, where: str) -> tuple[int, int]:
        w, h = int(request.width), int(request.height)
        if w < 8 or h < 8:
            raise UsageError(f"{where}: the picture size {w}x{h} is too small for a diffusion model")
        if self.options.size == "native":
            return native_size(w, h, self.preset["native"])
        if w % 8 or h % 8:
            raise UsageError(
                f"{where}: the picture size {w}x{h} is not a multiple of 8, which diffusers pipelines need; "
                f"ask for {_round8(w)}x{_round8(h)} (or a resolution such as 720p: 1280x720), "
                f"or pass -o size=native to draw at the model's own size and resize")
        return w, h

    def illustrate(self, request: IllustrationRequest) -> Illustration:
        """The scene's picture, screened: redrawn with other seeds while flagged, else the storybook's."""
        where = f"scene {request.scene_index + 1}"
        opts = self.options
        gen_w, gen_h = self._sizes(request, where)
        unknown = sorted(set(opts.references) - {c.id for c in request.cast})
        if unknown:
            raise UsageError(f"diffusers: references name characters not in the cast: {', '.join(unknown)} "
                             f"(cast: {', '.join(c.id for c in request.cast) or 'empty'})")
        pipe = self.pipeline()
        screening = self.screening()
        # a prompt over the tokenizer's limit is cut with a PromptCutWarning naming the cuts (also in drawn)
        ip = build_prompt(request.brief, request.cast, request.style, story_seed=request.seed,
                          scene_index=request.scene_index, tokenizer=getattr(pipe, "tokenizer", None),
                          scene_label=where, seed_from=opts.seed_from, variant=request.variant)
        kwargs, reference = self._call_arguments(pipe, request, ip, gen_w, gen_h)
        attempts = opts.redraws + 1 if screening.by else 1
        flagged_seeds: list[int] = []
        for attempt in range(attempts):
            seed = redraw_seed(ip.seed, attempt)
            image, verdict = self._draw(pipe, kwargs, seed, screening, where, gen_w, gen_h)
            if verdict is None or not verdict.flagged:
                break
            flagged_seeds.append(seed)  # that picture is dropped here: never saved nor returned
        else:
            return self._fallback(request, ip, screening, flagged_seeds)
        if image.size != (request.width, request.height):
            from PIL import Image

            image = image.resize((request.width, request.height), Image.Resampling.LANCZOS)
        outcome = "unscreened" if not screening.by else "redrawn" if flagged_seeds else "passed"
        drawn = {
            "backend": "diffusers",
            "model": self.model,
            "pipeline": type(pipe).__name__,
            "prompt": ip.prompt,
            "negative_prompt": kwargs.get("negative_prompt", ""),
            "seed": seed,
            "steps": kwargs["num_inference_steps"],
            "guidance": self._guidance(),
            "style": ip.style,
            "size": [request.width, request.height],
            "generated_size": [gen_w, gen_h],
            "device": self._device,
            "dtype": self._dtype,
            "characters": {s.id: s.text for s in ip.subjects},
            "reference": reference,
            "prompt_tokens": ip.tokens,
            "prompt_cut": list(ip.cut),
            "sprites": {},
            "undrawn": [],
            "screen": {"by": screening.by, "flagged_seeds": flagged_seeds, "outcome": outcome},
        }
        return Illustration(image=image, drawn=drawn)

    def _guidance(self) -> float:
        return self.preset["guidance"] if self.options.guidance is None else self.options.guidance

    def _call_arguments(self, pipe: Any, request: IllustrationRequest, ip: IllustrationPrompt, gen_w: int,
                        gen_h: int) -> tuple[dict[str, Any], str | None]:
        """The pipeline's keyword arguments but the generator, and the pictured character whose reference is
        used."""
        opts = self.options
        guidance = self._guidance()
        accepted = inspect.signature(pipe.__call__).parameters
        kwargs: dict[str, Any] = {"prompt": ip.prompt, "num_inference_steps": opts.steps or self.preset["steps"],
                                  "height": gen_h, "width": gen_w, "output_type": "pil"}
        if "guidance_scale" in accepted:
            kwargs["guidance_scale"] = guidance
        if "negative_prompt" in accepted and guidance > 1.0 and ip.negative_prompt:
            kwargs["negative_prompt"] = ip.negative_prompt
        reference = None
        if opts.ip_adapter:
            reference = next((c.id for c in request.in_picture() if c.id in opts.references), None)
            kwargs["ip_adapter_image"] = self._reference_image(reference, gen_w, gen_h)
            pipe.set_ip_adapter_scale(opts.ip_adapter_scale if reference else 0.0)
        return kwargs, reference

    def _draw(self, pipe: Any, kwargs: dict[str, Any], seed: int, screening: _Screening, where: str, gen_w: int,
              gen_h: int) -> tuple[Any, PictureVerdict | None]:
        """One picture drawn with seed, and its verdict (None: unscreened)."""
        import torch

        try:
            with torch.inference_mode():
                out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(seed))
        except torch.cuda.OutOfMemoryError if hasattr(torch.cuda, "OutOfMemoryError") else MemoryError:
            raise BackendError(f"{where}: the GPU ran out of memory at {gen_w}x{gen_h}; try -o cpu_offload=true, "
                               f"-o attention_slicing=true, -o vae_tiling=true or a smaller size") from None
        except (RuntimeError, ValueError) as err:
            raise BackendError(f"{where}: the diffusers pipeline {self.model} failed: {err}") from None
        image = out.images[0].convert("RGB")
        if screening.screen is not None:
            return image, screening.screen.check(image)
        if screening.own:
            flagged = bool((getattr(out, "nsfw_content_detected", None) or [False])[0])
            reason = "its output says nsfw content was detected" if flagged else "its output says none was detected"
            return image, PictureVerdict(flagged, PIPELINE_CHECKER, reason)
        return image, None

    def _fallback(self, request: IllustrationRequest, ip: IllustrationPrompt, screening: _Screening,
                  flagged_seeds: list[int]) -> Illustration:
        """The storybook's picture for a scene flagged on every seed, said in a warning and recorded."""
        tried = len(flagged_seeds)
        picture = storybook_fallback(request, "diffusers", f"the safety checker ({screening.by}) flagged the picture "
                                                           f"on {'all ' if tried > 1 else ''}{tried} "
                                                           f"seed{'s' if tried > 1 else ''} tried")
        drawn = {**picture.drawn, "model": self.model, "prompt": ip.prompt,
                 "screen": {"by": screening.by, "flagged_seeds": flagged_seeds, "outcome": "fallback"}}
        return Illustration(image=picture.image, drawn=drawn)

    # ------------------------------------------------------------ screening
    def screening(self) -> _Screening:
        """How this run's pictures are screened (chosen once, after the pipeline is loaded)."""
        if self._screening is None:
            self._screening = self._choose_screening(self.pipeline())
        return self._screening

    def _choose_screening(self, pipe: Any) -> _Screening:
        choice = self.options.safety_checker
        own = getattr(pipe, "safety_checker", None)
        if choice == "auto" and own is not None and getattr(pipe, "feature_extractor", None) is not None:
            return _Screening(PIPELINE_CHECKER, own=True)
        if own is not None:  # off, or another checker: the pipeline's own would black pictures out unasked
            pipe.safety_checker = None
        if choice == "off":
            return _Screening(None)
        model = choice if choice != "auto" else DEFAULT_CHECKER if installed_safety_checker() else None
        if model is None:
            warnings.warn(UNSCREENED, UnscreenedWarning, stacklevel=4)
            return _Screening(None)
        on_cpu = self._device == "cpu" or self.options.cpu_offload  # offloading: the GPU is kept for the model
        screen = SafetyCheckerScreen(model, device="cpu" if on_cpu else self._device,
                                     dtype="float32" if on_cpu else self._dtype)
        return _Screening(screen.name, screen)

    def _reference_image(self, char_id: str | None, width: int, height: int) -> Any:
        from PIL import Image

        if char_id is None:  # no reference in this picture: a blank image at scale 0
            return Image.new("RGB", (224, 224), (127, 127, 127))
        path = self.options.references[char_id]
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except OSError as err:
            raise UsageError(f"diffusers: the reference image for {char_id!r} cannot be read: {path} ({err})") \
                from None
