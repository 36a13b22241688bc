"""The transformers writer: any Hugging Face causal language model, by hub id or local folder.

    storymode make "a shy fox" --writer transformers -o model=Qwen/Qwen2.5-0.5B-Instruct

Nothing is downloaded unless ``allow_download=true``: a model that is not in the local cache gives an error
naming it and the command that fetches it. torch and transformers are imported only when a story is written.

With llguidance installed (``constrain=auto``, the default) a story is generated under a grammar built from
reply_schema(request): every token is one that keeps the reply a valid prefix of that JSON (see constrain.py).
The reply is still parsed, repaired and validated as without it. ``constrain=on`` fails when it cannot be used;
``constrain=off`` generates free text. The pictures' briefs for --from TEXT are generated without it.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from ...backend import BackendOptions
from ...hub import offline_unless
from ...errors import BackendError, MissingDependency, UsageError
from ...story import Story
from ..base import WriteRequest, Writer
from .common import BriefsByModel, Generate, Messages, reply_schema, write_with_retries

log = logging.getLogger(__name__)
_CACHE: dict[tuple, tuple] = {}  # (model, device, dtype, revision) -> (tokenizer, model); one process, reused
_LOCK = threading.Lock()


class TransformersOptions(BackendOptions):
    """Options of the transformers writer."""

    model: str = Field("Qwen/Qwen2.5-0.5B-Instruct", min_length=1, description="hub id or local folder")
    revision: str | None = None
    allow_download: bool = Field(False, description="fetch the model from the hub when it is not cached")
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    max_new_tokens: int = Field(1536, ge=8, le=32768)
    temperature: float = Field(0.7, ge=0, le=2, description="0 means greedy decoding")
    top_p: float = Field(0.95, gt=0, le=1)
    tries: int = Field(3, ge=1, le=10)
    trust_remote_code: bool = False
    llm_briefs: bool = Field(True, description="for --from TEXT: the model writes the pictures' briefs")
    constrain: Literal["auto", "on", "off"] = Field(
        "auto", description="only let the model write JSON of the reply schema (llguidance); auto: when installed")


def pick_device(wanted: str) -> str:
    """The torch device to use: the option, else cuda, then mps, then cpu."""
    import torch

    if wanted != "auto":
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise UsageError(f"device={wanted} was asked for, but torch sees no CUDA device here")
        if wanted == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UsageError("device=mps was asked for, but MPS is not available here")
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(wanted: str, device: str):  # type: ignore[no-untyped-def]
    """The torch dtype: the option, else bfloat16 on a GPU that has it, float16 on other GPUs, float32 on CPU."""
    import torch

    if wanted != "auto":
        return getattr(torch, wanted)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


class TransformersWriter(BriefsByModel, Writer):
    """Writes stories with a Hugging Face causal LM (chat template when it has one), offline by default."""

    name = "transformers"
    version = "1"
    description = "any Hugging Face causal language model (hub id or local folder), via transformers"
    Options = TransformersOptions
    requires = ("torch", "transformers")
    extra = "hub"
    uses_gpu = True

    def __init__(self, options: TransformersOptions | None = None) -> None:
        super().__init__(options)
        self.raw_dir: Path | None = None  # where invalid replies are saved (the pipeline sets the story's build/)
        self.usage: list[dict] = []  # new tokens and seconds per generation, for benchmarks
        self._seed = 0

    def fingerprint(self) -> dict:
        """Backend, version and the options that change the text (the model by id or resolved path)."""
        fp = super().fingerprint()
        path = Path(self.options.model).expanduser()
        if path.is_dir():
            fp["options"]["model"] = str(path.resolve())
        return fp

    # -- loading -------------------------------------------------------------------------------------------------

    def load(self):  # type: ignore[no-untyped-def]
        """(tokenizer, model, device), loaded once per process and reused."""
        if self.missing():
            raise MissingDependency(f"the writer 'transformers' needs {', '.join(self.missing())}: "
                                    f'pip install "storymode[hub]"')
        o = self.options
        device = pick_device(o.device)
        dtype = pick_dtype(o.dtype, device)
        key = (o.model, o.revision, device, str(dtype), o.trust_remote_code)
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = self._load(device, dtype)
            tok, model = _CACHE[key]
        return tok, model, device

    def _load(self, device: str, dtype):  # type: ignore[no-untyped-def]
        from transformers import AutoModelForCausalLM, AutoTokenizer

        o = self.options
        local = Path(o.model).expanduser()
        is_dir = local.is_dir()
        source = str(local) if is_dir else o.model
        if not is_dir and (local.is_absolute() or o.model.startswith((".", "~"))):
            raise UsageError(f"model {o.model!r}: no such folder")
        kw = {"revision": o.revision, "local_files_only": not o.allow_download,
              "trust_remote_code": o.trust_remote_code}
        t0 = time.perf_counter()
        try:
            import transformers

            major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
            dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"  # renamed in 4.56
            with offline_unless(o.allow_download):
                tok = AutoTokenizer.from_pretrained(source, **kw)
                model = AutoModelForCausalLM.from_pretrained(source, **{dtype_kw: dtype}, **kw)
        except (OSError, ValueError) as err:
            if is_dir:
                raise BackendError(f"could not load the model in {local}: {err}") from None
            if not o.allow_download:
                raise BackendError(
                    f"the model {o.model!r} is not in the local Hugging Face cache, and storymode never downloads "
                    f"without being asked. Fetch it once with `huggingface-cli download {o.model}` (or `hf download "
                    f"{o.model}`), pass a local folder as -o model=PATH, or allow the download with "
                    f"-o allow_download=true. ({type(err).__name__}: {str(err).splitlines()[0][:200]})") from None
            raise BackendError(f"could not download or load {o.model!r}: {err}") from None
        model.to(device)
        model.eval()
        if tok.pad_token_id is None and tok.eos_token_id is not None:
            tok.pad_token = tok.eos_token
        log.info("loaded %s on %s (%s) in %.1f s", o.model, device, dtype, time.perf_counter() - t0)
        return tok, model

    # -- generation ----------------------------------------------------------------------------------------------

    def prompt_text(self, tok, msgs: Messages) -> str:  # type: ignore[no-untyped-def]
        """The model's chat template applied to msgs, or a plain transcript when it has none; ends with '{'."""
        if getattr(tok, "chat_template", None):
            try:
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
                return text + "{"
            except Exception as err:  # noqa: BLE001 - templates that reject a system role, etc.
                log.info("the chat template failed (%s); using a plain prompt", err)
        parts = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
        return "\n\n".join(parts) + "\n\nAssistant: {"

    def wants_constraint(self) -> bool:
        """Whether generation is to be constrained; MissingDependency for constrain=on without llguidance."""
        from . import constrain

        if self.options.constrain == "off":
            return False
        if constrain.available():
            return True
        if self.options.constrain == "on":
            raise MissingDependency(f"the writer 'transformers' with constrain=on needs llguidance: "
                                    f"{constrain.INSTALL}")
        log.info("llguidance is not installed: generating without a grammar (%s)", constrain.INSTALL)
        return False

    def constraint(self, tok, model, schema: dict | None):  # type: ignore[no-untyped-def]
        """The logits processor that keeps the reply inside schema, or None (no schema, off, or auto unusable)."""
        if schema is None or not self.wants_constraint():
            return None
        from . import constrain

        try:
            return constrain.json_processor(tok, model, schema, prefix="{")
        except constrain.ConstraintUnavailable as err:
            if self.options.constrain == "on":
                raise UsageError(f"constrain=on, but the model {self.options.model!r} cannot be constrained: "
                                 f"{err}") from None
            log.info("generating without a grammar: %s", err)
            return None

    def generate(self, msgs: Messages, schema: dict | None = None) -> str:
        """The model's reply to msgs (starting with the '{' the prompt already holds), kept to schema if given."""
        import torch

        tok, model, device = self.load()
        o = self.options
        text = self.prompt_text(tok, msgs)
        inputs = tok(text, return_tensors="pt", add_special_tokens=not getattr(tok, "chat_template", None))
        inputs = {k: v.to(device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
        limit = getattr(model.config, "max_position_embeddings", None)
        n_in = inputs["input_ids"].shape[1]
        new = o.max_new_tokens
        if limit and n_in + new > limit:
            new = limit - n_in
            if new < 16:
                raise BackendError(f"the prompt ({n_in} tokens) does not fit the model's context of {limit} tokens")
        torch.manual_seed(self._seed)
        self._seed += 1
        kw = {"max_new_tokens": new, "pad_token_id": tok.pad_token_id, "do_sample": o.temperature > 0}
        if o.temperature > 0:
            kw.update(temperature=o.temperature, top_p=o.top_p)
        processor = self.constraint(tok, model, schema)
        if processor is not None:  # transformers applies it before temperature, top-k and top-p
            kw["logits_processor"] = [processor]
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs, **kw)
        ids = out[0, n_in:]
        self.usage.append({"seconds": time.perf_counter() - t0, "completion_tokens": int(ids.shape[0]),
                           "prompt_tokens": int(n_in), "constrained": processor is not None,
                           "mask_seconds": processor.mask_seconds if processor is not None else 0.0,
                           "grammar_errors": len(processor.errors) if processor is not None else 0})
        return "{" + tok.decode(ids, skip_special_tokens=True)

    # -- the writer interface ------------------------------------------------------------------------------------

    def write(self, request: WriteRequest) -> Story:
        """A story for request.prompt; invalid replies are repaired or asked for again."""
        self._seed = request.seed
        schema = reply_schema(request) if self.wants_constraint() else None  # what the prompt asks for

        def generate(msgs: Messages) -> str:
            return self.generate(msgs, schema)

        return write_with_retries(generate, request, tries=self.options.tries, save_raw=self.raw_dir,
                                  who=f"the model {self.options.model!r}")

    def brief_generate(self, request: WriteRequest) -> Generate:
        """generate(messages) for the briefs, seeded by the request."""
        self._seed = request.seed
        return self.generate

    def brief_who(self) -> str:
        """The model, as warnings about its briefs name it."""
        return f"the model {self.options.model!r}"
