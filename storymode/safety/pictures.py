"""Picture screens: is a drawn picture fit to show?

- ``SafetyCheckerScreen``: diffusers' ``StableDiffusionSafetyChecker`` (a CLIP vision model and its concept
  embeddings), by default ``CompVis/stable-diffusion-safety-checker``, loaded from a folder or the local Hugging
  Face cache only. A checker that is not there is a UsageError that says how to get it; nothing is downloaded.
- ``ConstructionScreen``: the storybook illustrator's pictures are drawn from shipped sprites, so they pass by
  construction; the same interface records that.

torch, diffusers and transformers are imported inside functions only, so importing this module stays cheap.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BackendError, UsageError

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_CHECKER = "CompVis/stable-diffusion-safety-checker"
GET_CHECKER = f"hf download {DEFAULT_CHECKER}"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
CONSTRUCTION_REASON = "procedural pictures drawn from shipped sprites"
# the checker logs that 'a black image will be returned' for a flagged picture; here the picture is dropped instead
CHECKER_LOGGER = "diffusers.pipelines.stable_diffusion.safety_checker"


@dataclass(frozen=True)
class PictureVerdict:
    """One picture's screening: flagged or not, by which screen, and why."""

    flagged: bool
    screen: str
    reason: str


class PictureScreen(ABC):
    """Checks pictures before they are saved or shown."""

    name: str = ""

    @abstractmethod
    def check(self, image: "Image.Image") -> PictureVerdict:
        """The verdict on one picture."""


class ConstructionScreen(PictureScreen):
    """The storybook illustrator's screen: its pictures are built from shipped sprites, so none is flagged."""

    name = "construction"

    def check(self, image: "Image.Image") -> PictureVerdict:
        """Always passes: nothing in the picture came from a generative model."""
        return PictureVerdict(flagged=False, screen=self.name, reason=CONSTRUCTION_REASON)


class SafetyCheckerScreen(PictureScreen):
    """diffusers' Stable Diffusion safety checker, from a folder or the local Hugging Face cache (never a download).

    The location is checked when the screen is made (a UsageError when it is missing); the weights are loaded on
    the first check."""

    def __init__(self, model: str = DEFAULT_CHECKER, device: str = "cpu", dtype: str = "float32") -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self.folder = checker_folder(model)
        self.name = checker_label(model)
        self._checker: Any = None
        self._processor: Any = None

    def check(self, image: "Image.Image") -> PictureVerdict:
        """Flagged when any of the checker's concepts scores over its threshold for this picture."""
        import numpy as np
        import torch

        checker, processor = self._loaded()
        rgb = image.convert("RGB")
        clip_input = processor(images=[rgb], return_tensors="pt").pixel_values
        clip_input = clip_input.to(device=self.device, dtype=getattr(torch, self.dtype))
        # the checker would black out flagged images in place; here a flagged picture is dropped, so it gets a stub
        stub = np.zeros((1, 1, 1, 3), dtype=np.float32)
        try:
            with torch.inference_mode(), _quiet(CHECKER_LOGGER):
                _, flags = checker(clip_input=clip_input, images=stub)
        except (RuntimeError, ValueError) as err:
            raise BackendError(f"the safety checker {self.name} failed: {err}") from None
        if bool(flags[0]):
            return PictureVerdict(True, self.name, "the safety checker matched a concept it screens for")
        return PictureVerdict(False, self.name, "no concept the safety checker screens for matched")

    def _loaded(self) -> tuple[Any, Any]:
        """The checker model and its image processor, loaded once."""
        if self._checker is None:
            self._checker, self._processor = load_checker(self.folder, self.model, self.device, self.dtype)
        return self._checker, self._processor


def checker_label(model: str) -> str:
    """How a checker is named in records and messages: a hub id as it is, a local folder by its last part (the
    user's own folders are not published)."""
    path = Path(model).expanduser()
    return path.resolve().name if _looks_local(model) or path.is_dir() else model


def checker_folder(model: str) -> Path:
    """The folder holding a checker (a local folder, or its snapshot in the local Hugging Face cache); a
    UsageError saying how to get it when it is not there."""
    path = Path(model).expanduser()
    if path.is_dir() or _looks_local(model):
        if not (path / "config.json").is_file():
            raise UsageError(f"the safety checker folder {model} does not exist or holds no config.json; give a "
                             f"folder saved by StableDiffusionSafetyChecker.save_pretrained, a hub id in the "
                             f"local cache, or get the default one with `{GET_CHECKER}`")
        return path
    folder = cached_checker(model)
    if folder is None:
        raise UsageError(f"the safety checker {model} is not in the local Hugging Face cache ({hub_cache()}) and "
                         f"storymode downloads nothing; get it once with `hf download {model}`, or pass "
                         f"-o safety_checker=off to draw unscreened")
    return folder


def installed_safety_checker() -> str | None:
    """The folder of the default checker's weights in the local Hugging Face cache, or None (no network)."""
    folder = cached_checker(DEFAULT_CHECKER)
    return str(folder) if folder is not None else None


def cached_checker(repo_id: str) -> Path | None:
    """The snapshot folder of a hub checker in the local cache when its config and weights are there."""
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(repo_id, "config.json", cache_dir=str(hub_cache()))
    except ValueError:  # not a valid repo id
        return None
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    return folder if any((folder / name).is_file() for name in WEIGHT_FILES) else None


def hub_cache() -> Path:
    """The Hugging Face hub cache as the environment names it now (huggingface_hub reads it only at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    import huggingface_hub.constants as hub_constants

    return Path(hub_constants.HF_HUB_CACHE)


def load_checker(folder: Path, model: str, device: str, dtype: str) -> tuple[Any, Any]:
    """A StableDiffusionSafetyChecker and a CLIP image processor sized to it, from local files only."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    from ..hub import offline_unless

    try:
        with offline_unless(False):
            checker = StableDiffusionSafetyChecker.from_pretrained(
                str(folder), torch_dtype=getattr(torch, dtype), local_files_only=True)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot load the safety checker {checker_label(model)}: {err}; get the default one "
                         f"with `{GET_CHECKER}`") from None
    checker = checker.to(device).eval()
    return checker, _processor(folder, checker)


def _processor(folder: Path, checker: Any) -> Any:
    """The folder's image processor, or CLIP's standard one sized to the checker's vision model."""
    processor_class = _image_processor_class()
    if (folder / "preprocessor_config.json").is_file():
        return processor_class.from_pretrained(str(folder), local_files_only=True)
    side = int(checker.config.vision_config.image_size)
    return processor_class(size={"shortest_edge": side}, crop_size={"height": side, "width": side})


def _image_processor_class() -> Any:
    """CLIP's image processor; without torchvision, transformers 5's Pillow one (the same preprocessing, and no
    log line about the fallback)."""
    import transformers

    if importlib.util.find_spec("torchvision") is None and hasattr(transformers, "CLIPImageProcessorPil"):
        return transformers.CLIPImageProcessorPil
    return transformers.CLIPImageProcessor


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """That logger's warnings held back for a while (errors still shown)."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _looks_local(model: str) -> bool:
    """Whether a checker name is a path rather than a hub id (owner/name)."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model
