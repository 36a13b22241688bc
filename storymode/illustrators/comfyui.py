"""The comfyui illustrator: pictures from a running ComfyUI server, driven through its own API.

For each scene the API-format workflow (a JSON graph of nodes) is filled in and sent to ``POST /prompt`` with
this illustrator's client id; progress is followed on the ``/ws`` websocket for that client id; the picture's
name comes from ``GET /history/{prompt_id}`` and the picture itself from ``GET /view``. Nothing is installed or
downloaded here: the server must already have the node types and model files the workflow names.

Workflows (option ``workflow``):

- ``sdxl`` (the default): CheckpointLoaderSimple (``sd_xl_base_1.0.safetensors``) -> CLIPTextEncode x2 ->
  EmptyLatentImage -> KSampler (25 steps, cfg 7) -> VAEDecode -> SaveImage.
- ``flux-schnell``: ComfyUI's FLUX.1-schnell example on the fp8 checkpoint ``flux1-schnell-fp8.safetensors``
  (CheckpointLoaderSimple, EmptySD3LatentImage, KSampler with 4 steps and cfg 1; no negative prompt).
- the path of your own workflow, saved from ComfyUI with "Export (API)" (the UI format, with "nodes" and
  "links", is refused with that hint).

A workflow names the inputs storymode fills in, in either of two ways (both may be used in one file):

- placeholders in string values: ``"{{prompt}}"``, ``"{{negative}}"``, ``"{{seed}}"``, ``"{{width}}"``,
  ``"{{height}}"``. A value that is exactly one placeholder gets the typed value (a number for seed, width and
  height); a placeholder inside longer text is replaced by its text ("masterpiece, {{prompt}}").
- node titles (``_meta.title``, set with "Title" in ComfyUI): "storymode prompt" and "storymode negative" fill
  the node's text inputs (text, text_g, text_l, clip_l, t5xxl or prompt), "storymode seed" its seed or
  noise_seed, "storymode size" its width and height.

A workflow that names no prompt input is refused with a UsageError. Without a seed input every scene starts
from the workflow's own seed (a warning says so); without a size input the workflow's own size is used.

The prompt comes from the shared builder (``prompting.build_prompt``: the style, and the same description of
each character in every scene), the seed from ``prompting.scene_seed`` (or the lead character's seed with
``seed_from=lead``). The picture is asked for at the request's size (which carries the zoom margin) scaled down
to at most ``max_pixels`` and rounded up to a multiple of ``size_multiple`` (64 by default, which SDXL and FLUX
both take), and the fetched PNG is cover-fitted to the request's size. The brief's picture variant (when not 0)
changes the seed: another drawing of the same prompt.

``timeout`` bounds each picture (queue wait included). When it runs out, or on Ctrl-C, the prompt is taken out
of the server's queue (``POST /queue {"delete": [id]}``) and, if it is already running, interrupted
(``POST /interrupt {"prompt_id": id}``; only when ``GET /queue`` shows it is this prompt that runs).

A node type the server lacks, or a model file it does not have, is a UsageError that names the node (id and
class type) and the file. An optional key (``api_key_env``, for a ComfyUI behind an authenticating proxy) is read
from the environment and sent as a bearer token only; it never appears in options, fingerprints or messages.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import re
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from ..backend import BackendOptions
from ..errors import BackendError, StorymodeError, UsageError
from ..openai_api import redact_url
from .base import Illustration, IllustrationRequest, Illustrator, read_capped
from .prompting import IllustrationPrompt, build_prompt

if TYPE_CHECKING:
    import httpx
    from PIL import Image

WORKFLOW_DIR = Path(__file__).resolve().parent / "workflows"
# the shipped workflows: file, and the most pixels to ask the model for (about its training size)
PRESETS: dict[str, dict[str, Any]] = {
    "sdxl": {"file": "sdxl.json", "max_pixels": 1024 * 1024},
    "flux-schnell": {"file": "flux-schnell.json", "max_pixels": 2 * 1024 * 1024},
}
MAX_WORKFLOW_BYTES = 4_000_000
MAX_PICTURE_BYTES = 64_000_000
ROLES = ("prompt", "negative", "seed", "width", "height")
PLACEHOLDER = re.compile(r"\{\{\s*(prompt|negative|seed|width|height)\s*\}\}")
TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "t5xxl", "prompt")
TITLES: dict[str, dict[str, tuple[str, ...]]] = {  # node title -> role -> the inputs it fills
    "storymode prompt": {"prompt": TEXT_INPUTS},
    "storymode negative": {"negative": TEXT_INPUTS},
    "storymode seed": {"seed": ("seed", "noise_seed")},
    "storymode size": {"width": ("width",), "height": ("height",)},
}
NUMERIC_ROLES = ("seed", "width", "height")
MODEL_FILE = re.compile(r"(?i)\.(safetensors|ckpt|pt|pth|bin|gguf|sft|onnx)$")
MODEL_INPUTS = ("ckpt_name", "unet_name", "clip_name", "clip_name1", "clip_name2", "clip_name3", "vae_name",
                "lora_name", "control_net_name", "model_name", "upscale_model")
EXPORT_HINT = 'save it from ComfyUI with "Export (API)" (Workflow menu; older versions: "Save (API Format)")'


class ComfyUIIllustrator(Illustrator):
    """Pictures from a running ComfyUI server: SDXL, FLUX-schnell or your own API-format workflow."""

    name = "comfyui"
    version = "1"
    description = "a running ComfyUI server (API-format workflows: sdxl, flux-schnell, or your own file)"
    requires = ("websockets",)
    extra = "comfyui"
    credits = ("Pictures made with ComfyUI ({workflow})",)

    class Options(BackendOptions):
        """Where ComfyUI runs, which workflow it runs, and how long to wait."""

        base_url: str = Field("http://127.0.0.1:8188", description="the ComfyUI server's address")
        workflow: str = Field("sdxl", min_length=1, max_length=1000,
                              description="sdxl, flux-schnell, or the path of an API-format workflow JSON")
        checkpoint: str | None = Field(None, min_length=1, max_length=300,
                                       description="checkpoint file to load instead of the workflow's "
                                                   "(every ckpt_name input)")
        timeout: float = Field(600.0, gt=0, le=86400, description="seconds to wait for one picture, queue "
                                                                  "included; then the prompt is cancelled")
        size_multiple: int = Field(64, ge=8, le=256, multiple_of=8,
                                   description="the generated sides are multiples of this (SDXL needs 8, "
                                               "FLUX 16)")
        max_pixels: int | None = Field(None, ge=4096, le=64_000_000,
                                       description="the most pixels to generate (default: the shipped "
                                                   "workflow's; none for your own)")
        seed_from: Literal["scene", "lead"] = Field(
            "scene", description="scene: a seed per scene; lead: the first pictured character's fixed seed")
        api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                        description="name of an environment variable holding a bearer token "
                                                    "for a server behind an authenticating proxy (not the key)")

        @field_validator("base_url")
        @classmethod
        def _http_url(cls, value: str) -> str:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("base_url must be an http:// or https:// address, such as http://127.0.0.1:8188")
            return value.strip().rstrip("/")

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)
        opts = self.options
        self.template = load_workflow(opts.workflow)
        if opts.checkpoint:
            self.template = self.template.with_checkpoint(opts.checkpoint)
        self.client_id = uuid.uuid4().hex
        self._warned_seed = False
        self._client: httpx.Client | None = None  # one connection pool for every picture

    # ------------------------------------------------------------ what it is
    def fingerprint(self) -> dict:
        """The options that change a picture, the workflow's content hash in place of its path; no key, no
        timeout."""
        shown = self.options.model_dump(mode="json")
        for transport in ("api_key_env", "timeout"):
            shown.pop(transport, None)
        shown["base_url"] = redact_url(self.options.base_url)
        shown["workflow"] = Path(self.template.name).name  # a file by its name: keys do not depend on folders
        shown["workflow_sha256"] = self.template.sha256
        return {"backend": f"{self.stage}.{self.name}", "version": self.version, "options": shown}

    def reachable(self) -> tuple[bool, str]:
        """Whether a ComfyUI server answers at base_url (GET /system_stats), and if not, what to set."""
        where = redact_url(self.options.base_url)
        try:
            with self._http(timeout=5.0) as http:
                reply = http.get("system_stats")
            if reply.status_code == 200 and isinstance(reply.json().get("system"), dict):
                return True, ""
            return False, f"{where} answered HTTP {reply.status_code} to /system_stats: is it a ComfyUI server?"
        except StorymodeError as err:
            return False, str(err)
        except Exception as err:  # noqa: BLE001 - a probe reports, it never raises
            return False, (f"nothing answered at {where} ({type(err).__name__}): start ComfyUI, or set -o "
                           "base_url=http://HOST:PORT")

    # ------------------------------------------------------------ drawing
    def illustrate(self, request: IllustrationRequest) -> Illustration:
        """The scene's picture, made by the ComfyUI server from the filled-in workflow."""
        where = f"scene {request.scene_index + 1}"
        prompt = build_prompt(request.brief, request.cast, request.style, story_seed=request.seed,
                              scene_index=request.scene_index, scene_label=where, seed_from=self.options.seed_from,
                              variant=request.variant)
        gen_w, gen_h = generation_size(request.width, request.height, self.options.size_multiple,
                                       self._max_pixels())
        values = {"prompt": prompt.prompt, "negative": prompt.negative_prompt, "seed": prompt.seed,
                  "width": gen_w, "height": gen_h}
        if "seed" not in self.template.roles and not self._warned_seed:
            self._warned_seed = True
            warnings.warn(f"the workflow {self.template.name} names no seed input, so every scene starts from "
                          "its own fixed seed (title a sampler 'storymode seed' or write \"{{seed}}\")",
                          UserWarning, stacklevel=2)
        graph = self.template.filled(values)
        run = _Run(where=where, deadline=time.monotonic() + self.options.timeout,
                   classes={node_id: node["class_type"] for node_id, node in graph.items()})
        picture = self._make(graph, run)
        return Illustration(image=cover(picture, request.width, request.height),
                            drawn=self._drawn(request, prompt, run, picture.size))

    def _max_pixels(self) -> int | None:
        if self.options.max_pixels is not None:
            return self.options.max_pixels
        preset = PRESETS.get(self.options.workflow)
        return preset["max_pixels"] if preset else None

    def _drawn(self, request: IllustrationRequest, prompt: IllustrationPrompt, run: _Run,
               fetched: tuple[int, int]) -> dict:
        roles = self.template.roles
        return {
            "backend": "comfyui",
            "server": redact_url(self.options.base_url),
            "workflow": self.template.name,
            "workflow_sha256": self.template.sha256,
            "prompt_id": run.prompt_id,
            "prompt": prompt.prompt,
            "negative_prompt": prompt.negative_prompt if "negative" in roles else "",
            "seed": prompt.seed if "seed" in roles else None,
            "style": prompt.style,
            "size": [request.width, request.height],
            "generated_size": list(fetched),
            "bound": {role: [f"{b.node_id}.{b.input}" for b in self.template.bindings if role in b.roles]
                      for role in ROLES if role in roles},
            "characters": {s.id: s.text for s in prompt.subjects},
            "prompt_tokens": prompt.tokens,
            "prompt_cut": list(prompt.cut),
            "sprites": {},
            "undrawn": [],
        }

    def _make(self, graph: dict, run: _Run) -> Image.Image:
        """Queue the graph, follow it to its end, fetch its picture; cancel it on timeout or Ctrl-C."""
        if self._client is None:
            self._client = self._http(timeout=30.0)
        http = self._client
        with self._progress_socket(run) as ws:
            run.prompt_id = self._submit(http, graph, run)
            try:
                follow(ws, run)
            except (_TimedOut, KeyboardInterrupt) as stop:
                cancel(http, run.prompt_id)
                if isinstance(stop, KeyboardInterrupt):
                    raise
                raise BackendError(
                    f"{run.where}: no picture from ComfyUI at {self._where()} within "
                    f"{self.options.timeout:g} s ({run.progress()}); the prompt was cancelled "
                    "(option timeout)") from None
        return self._fetch(http, run)

    # ------------------------------------------------------------ the server's API
    def _where(self) -> str:
        return redact_url(self.options.base_url)

    def _key(self) -> str | None:
        name = self.options.api_key_env
        if name is None:
            return None
        key = os.environ.get(name)
        if not key:
            raise UsageError(f"comfyui: set the environment variable {name} to the server's token "
                             "(option api_key_env names it), or drop api_key_env")
        return key

    def _headers(self) -> dict[str, str]:
        key = self._key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.options.api_key_env or "") if self.options.api_key_env else None
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return text.replace(self.options.base_url, self._where())

    def _http(self, timeout: float) -> httpx.Client:
        import httpx

        return httpx.Client(base_url=self.options.base_url + "/", headers=self._headers(), trust_env=False,
                            follow_redirects=False, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def _progress_socket(self, run: _Run) -> Any:
        """The /ws connection for this client id, opened before the prompt is queued so no message is missed."""
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        parts = urlsplit(self.options.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", f"clientId={self.client_id}", ""))
        try:
            return connect(url, additional_headers=self._headers() or None, proxy=None, max_size=MAX_PICTURE_BYTES,
                           open_timeout=max(1.0, min(30.0, run.remaining())), close_timeout=2.0,
                           compression=None)
        except InvalidStatus as err:
            code = err.response.status_code
            check = "is the token right? (option api_key_env)" if code in (401, 403) else \
                "is it a ComfyUI server? (option base_url)"
            raise BackendError(f"{run.where}: the server at {self._where()} refused the progress websocket /ws "
                               f"(HTTP {code}): {check}") from None
        except InvalidURI:
            raise UsageError(f"comfyui: {self._where()} is not a usable server address (option base_url)") from None
        except (OSError, TimeoutError, InvalidHandshake) as err:
            raise BackendError(f"{run.where}: nothing answered at {self._where()} ({type(err).__name__}): is "
                               "ComfyUI running? (option base_url)") from None

    def _submit(self, http: httpx.Client, graph: dict, run: _Run) -> str:
        """POST /prompt; its prompt_id, or a clear error for a refused workflow."""
        reply = self._call(http, "POST", "prompt", run, json={"prompt": graph, "client_id": self.client_id})
        body = _json(reply)
        if reply.status_code == 400 and isinstance(body, dict):
            raise refusal(body, graph, self.template.name, self._where(), self._scrub)
        if reply.status_code != 200 or not isinstance(body, dict) or not body.get("prompt_id"):
            raise BackendError(f"{run.where}: the server at {self._where()} answered HTTP {reply.status_code} to "
                               f"POST /prompt ({self._scrub(_short(reply.text))}); is it a ComfyUI server? "
                               "(option base_url)")
        return str(body["prompt_id"])

    def _fetch(self, http: httpx.Client, run: _Run) -> Image.Image:
        """The first saved picture of the finished prompt (GET /history, then GET /view), decoded."""
        from PIL import Image, UnidentifiedImageError

        ref = self._first_image(http, run)
        data = self._download(http, ref, run)
        try:
            with Image.open(io.BytesIO(data)) as img:
                return img.convert("RGB")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
            raise BackendError(f"{run.where}: ComfyUI's picture {ref.get('filename')!r} could not be read "
                               f"({type(err).__name__})") from None

    def _first_image(self, http: httpx.Client, run: _Run) -> dict:
        entry = None
        for _ in range(50):  # the history is written just before the final message; a short wait covers a race
            entry = (_json(self._call(http, "GET", f"history/{run.prompt_id}", run)) or {}).get(run.prompt_id)
            if entry or run.remaining() <= 0:
                break
            time.sleep(0.1)
        outputs = entry.get("outputs") if isinstance(entry, dict) else None
        images = [img for out in (outputs or {}).values() if isinstance(out, dict)
                  for img in out.get("images") or [] if isinstance(img, dict) and img.get("filename")]
        if not images:
            raise BackendError(f"{run.where}: the workflow {self.template.name} finished without a picture "
                               "(does it end in a SaveImage node?)")
        return next((img for img in images if img.get("type") == "output"), images[0])

    def _download(self, http: httpx.Client, ref: dict, run: _Run) -> bytes:
        import httpx

        params = {"filename": ref["filename"], "subfolder": ref.get("subfolder", ""),
                  "type": ref.get("type", "output")}
        try:
            with http.stream("GET", "view", params=params, timeout=max(1.0, min(60.0, run.remaining()))) as reply:
                if reply.status_code != 200:
                    raise BackendError(f"{run.where}: the server at {self._where()} answered HTTP "
                                       f"{reply.status_code} to GET /view for {ref['filename']!r}")
                return read_capped(reply, MAX_PICTURE_BYTES, f"{run.where}: ComfyUI's picture is larger than "
                                                             f"{MAX_PICTURE_BYTES // 1_000_000} MB")
        except httpx.HTTPError as err:
            raise BackendError(f"{run.where}: fetching the picture from {self._where()} failed "
                               f"({type(err).__name__})") from None

    def _call(self, http: httpx.Client, method: str, path: str, run: _Run, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return http.request(method, path, timeout=max(1.0, min(30.0, run.remaining())), **kwargs)
        except httpx.TimeoutException:
            raise BackendError(f"{run.where}: the server at {self._where()} did not answer {method} /{path} in "
                               "time (option timeout)") from None
        except httpx.HTTPError as err:
            raise BackendError(f"{run.where}: nothing answered at {self._where()} ({type(err).__name__}): is "
                               "ComfyUI running? (option base_url)") from None


# ---------------------------------------------------------------- one picture's run
@dataclass
class _Run:
    """Where one picture's run is: its scene, deadline, prompt id, and what the server last said."""

    where: str
    deadline: float
    classes: dict[str, str] = field(default_factory=dict)  # node id -> class type, for messages
    prompt_id: str | None = None
    started: bool = False
    node: str | None = None
    step: tuple[int, int] | None = None

    def remaining(self) -> float:
        """Seconds left before this picture's deadline."""
        return self.deadline - time.monotonic()

    def progress(self) -> str:
        """How far the server got, in words."""
        if not self.started:
            return "it was still waiting in the server's queue"
        at = f"it was at node {self.node} ({self.classes.get(self.node, '?')})" if self.node else "it had started"
        return at + (f", step {self.step[0]}/{self.step[1]}" if self.step else "")


class _TimedOut(Exception):
    """The picture's time ran out."""


def follow(ws: Any, run: _Run) -> None:
    """Read the server's messages for this prompt until it has finished; raise on its failure or at the deadline.

    Waits in short slices so that Ctrl-C is felt at once."""
    from websockets.exceptions import ConnectionClosed

    while True:
        remaining = run.remaining()
        if remaining <= 0:
            raise _TimedOut()
        try:
            message = ws.recv(timeout=min(remaining, 0.5))
        except TimeoutError:
            continue
        except ConnectionClosed:
            raise BackendError(f"{run.where}: the ComfyUI server closed the progress websocket before the "
                               "picture was done (did it restart?)") from None
        if isinstance(message, bytes):  # preview frames
            continue
        try:
            event = json.loads(message)
        except ValueError:
            continue
        data = event.get("data") if isinstance(event, dict) else None
        if isinstance(data, dict) and data.get("prompt_id") == run.prompt_id \
                and _on_event(str(event.get("type")), data, run):
            return


def _on_event(kind: str, data: dict, run: _Run) -> bool:
    """Update run from one message about this prompt; True when the prompt has finished."""
    if kind == "execution_start":
        run.started = True
    elif kind == "executing":
        if data.get("node") is None:
            return True
        run.started, run.node, run.step = True, str(data["node"]), None
    elif kind == "progress":
        run.step = (int(data.get("value", 0)), int(data.get("max", 0)))
    elif kind == "execution_error":
        message = _short(f"{data.get('exception_type', 'error')}: {data.get('exception_message', '')}", 300)
        hint = "; try a smaller max_pixels" if "memory" in message.lower() else ""
        raise BackendError(f"{run.where}: ComfyUI failed in node {data.get('node_id')} "
                           f"({data.get('node_type')}): {message}{hint}")
    elif kind == "execution_interrupted":
        raise BackendError(f"{run.where}: the prompt was interrupted on the ComfyUI server at node "
                           f"{data.get('node_id')} ({data.get('node_type')})")
    return False


def cancel(http: httpx.Client, prompt_id: str | None) -> None:
    """Take the prompt out of the queue, and interrupt it if it is the one running (best effort: the server may
    be gone)."""
    import httpx

    if prompt_id is None:
        return
    try:
        http.post("queue", json={"delete": [prompt_id]}, timeout=5.0)
        queue = http.get("queue", timeout=5.0).json()
        running = queue.get("queue_running", []) if isinstance(queue, dict) else []
        if any(isinstance(item, list) and len(item) > 1 and item[1] == prompt_id for item in running):
            http.post("interrupt", json={"prompt_id": prompt_id}, timeout=5.0)
    except (httpx.HTTPError, ValueError):
        pass


# ---------------------------------------------------------------- workflows
@dataclass(frozen=True)
class Binding:
    """One input that storymode fills in: a node's input and the text with placeholders it becomes."""

    node_id: str
    input: str
    template: str  # e.g. "{{prompt}}" or "masterpiece, {{prompt}}"

    @property
    def roles(self) -> tuple[str, ...]:
        """The inputs the template names ({{prompt}}, {{seed}} ...)."""
        return tuple(m.group(1) for m in PLACEHOLDER.finditer(self.template))

    def value(self, values: dict[str, Any]) -> Any:
        """The filled value: typed when the template is one placeholder alone, else the text."""
        whole = PLACEHOLDER.fullmatch(self.template.strip())
        if whole:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.template)


@dataclass(frozen=True)
class Workflow:
    """An API-format ComfyUI graph and the inputs storymode fills in."""

    name: str
    graph: dict
    bindings: tuple[Binding, ...]
    sha256: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def filled(self, values: dict[str, Any]) -> dict:
        """A copy of the graph with every bound input filled in."""
        graph = copy.deepcopy(self.graph)
        for b in self.bindings:
            graph[b.node_id]["inputs"][b.input] = b.value(values)
        return graph

    def with_checkpoint(self, checkpoint: str) -> Workflow:
        """The workflow loading another checkpoint file in every ckpt_name input."""
        graph = copy.deepcopy(self.graph)
        loaders = [node for node in graph.values() if isinstance(node["inputs"].get("ckpt_name"), str)]
        if not loaders:
            raise UsageError(f"comfyui: the workflow {self.name} has no checkpoint loader (no node with a "
                             "ckpt_name value), so -o checkpoint has nothing to set; drop it or edit the workflow")
        for node in loaders:
            node["inputs"]["ckpt_name"] = checkpoint
        return Workflow(self.name, graph, self.bindings, _digest(graph), self.roles)


def load_workflow(spec: str) -> Workflow:
    """A shipped workflow by name, or the user's API-format workflow file; UsageError on anything unusable."""
    if spec in PRESETS:
        path, name = WORKFLOW_DIR / PRESETS[spec]["file"], spec
    else:
        path, name = Path(spec).expanduser(), spec
        if not path.is_file():
            raise UsageError(f"comfyui: the workflow {spec!r} is not {' or '.join(PRESETS)} and no such file "
                             f"exists; give the path of an API-format workflow JSON ({EXPORT_HINT})")
    graph = read_graph(path, name)
    bindings = find_bindings(graph, name)
    roles = frozenset(role for b in bindings for role in b.roles)
    if "prompt" not in roles:
        raise UsageError(f"comfyui: the workflow {name} names no prompt input: write \"{{{{prompt}}}}\" as the "
                         "text of its positive prompt node, or title that node 'storymode prompt'")
    return Workflow(name, graph, bindings, _digest(graph), roles)


def read_graph(path: Path, name: str) -> dict:
    """The workflow file as an API-format graph: {node id: {"class_type", "inputs", "_meta"?}}."""
    try:
        if path.stat().st_size > MAX_WORKFLOW_BYTES:
            raise UsageError(f"comfyui: the workflow {name} is larger than {MAX_WORKFLOW_BYTES // 1_000_000} MB")
        graph = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"comfyui: the workflow {name} cannot be read ({err})") from None
    except (ValueError, RecursionError) as err:
        raise UsageError(f"comfyui: the workflow {name} is not valid JSON ({err})") from None
    if isinstance(graph, dict) and "nodes" in graph and "links" in graph:
        raise UsageError(f"comfyui: {name} is a workflow in ComfyUI's UI format; storymode needs the API "
                         f"format: {EXPORT_HINT}")
    if isinstance(graph, dict) and isinstance(graph.get("prompt"), dict):
        graph = graph["prompt"]  # a saved /prompt request body
    if not isinstance(graph, dict) or not graph:
        raise UsageError(f"comfyui: the workflow {name} is not an API-format graph (an object of nodes)")
    for node_id, node in graph.items():
        if not (isinstance(node, dict) and isinstance(node.get("class_type"), str)
                and isinstance(node.get("inputs", {}), dict)):
            raise UsageError(f"comfyui: node {node_id} of the workflow {name} has no class_type and inputs; "
                             f"is it an API-format workflow? ({EXPORT_HINT})")
        node.setdefault("inputs", {})
    return graph


def find_bindings(graph: dict, name: str) -> tuple[Binding, ...]:
    """Every input storymode fills: string values with placeholders, and the inputs of titled nodes."""
    found: dict[tuple[str, str], Binding] = {}
    for node_id, node in graph.items():
        for input_name, value in node["inputs"].items():
            if isinstance(value, str) and PLACEHOLDER.search(value):
                found[(node_id, input_name)] = Binding(node_id, input_name, value)
        title = " ".join(str((node.get("_meta") or {}).get("title", "")).split()).lower()
        for role, inputs in TITLES.get(title, {}).items():
            for input_name in _titled_inputs(node_id, node, role, inputs, name):
                found.setdefault((node_id, input_name), Binding(node_id, input_name, "{{" + role + "}}"))
    return tuple(found.values())


def _titled_inputs(node_id: str, node: dict, role: str, inputs: tuple[str, ...], name: str) -> list[str]:
    """The inputs of a titled node that take the role's value; UsageError when it has none to fill."""
    present = [i for i in inputs if i in node["inputs"]]
    settable = [i for i in present if not isinstance(node["inputs"][i], list)]
    if settable:
        return settable[:1] if role in NUMERIC_ROLES else settable
    title = node.get("_meta", {}).get("title")
    if present:
        raise UsageError(f"comfyui: node {node_id} ({node['class_type']}) of the workflow {name} is titled "
                         f"{title!r}, but its {present[0]} input is a link from another node; set the value on "
                         "that node instead, or write the placeholder there")
    raise UsageError(f"comfyui: node {node_id} ({node['class_type']}) of the workflow {name} is titled {title!r}, "
                     f"but has none of the inputs {', '.join(inputs)}; title the right node, or use a placeholder")


def _digest(graph: dict) -> str:
    return hashlib.sha256(json.dumps(graph, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------- a refused workflow, explained
def refusal(body: dict, graph: dict, workflow: str, where: str, scrub: Any = str) -> UsageError:
    """ComfyUI's HTTP 400 to POST /prompt as one message naming the node (id and class type) and the file."""
    error = body.get("error")
    if isinstance(error, dict) and error.get("type") == "missing_node_type":
        info = error.get("extra_info") or {}
        found = re.search(r"#([^'\"\s]+)", str(error.get("details", "")))
        node_id = str(info.get("node_id") or (found.group(1) if found else "?"))
        class_type = info.get("class_type") or (graph.get(node_id) or {}).get("class_type")
        if not class_type:
            return UsageError(f"comfyui: node {node_id} of the workflow {workflow} has no class_type "
                              f"({EXPORT_HINT})")
        return UsageError(f"comfyui: the ComfyUI server at {where} has no node type {class_type!r}, which node "
                          f"{node_id} of the workflow {workflow} uses: install the custom node that provides it "
                          "(ComfyUI Manager: Install Missing Custom Nodes), or use another workflow")
    problems = []
    for node_id, entry in (body.get("node_errors") or {}).items():
        if not isinstance(entry, dict):
            continue
        class_type = entry.get("class_type") or (graph.get(str(node_id)) or {}).get("class_type", "?")
        for err in entry.get("errors") or []:
            if isinstance(err, dict):
                problems.append(_node_problem(str(node_id), class_type, err))
    if problems:
        more = f" (and {len(problems) - 4} more)" if len(problems) > 4 else ""
        return UsageError(scrub(f"comfyui: the ComfyUI server at {where} refused the workflow {workflow}: "
                                + "; ".join(problems[:4]) + more))
    if isinstance(error, dict):
        said = " ".join(str(x) for x in (error.get("message"), error.get("details")) if x)
    else:
        said = str(error)
    return UsageError(scrub(f"comfyui: the ComfyUI server at {where} refused the workflow {workflow}: "
                            f"{_short(said, 300)}"))


def _node_problem(node_id: str, class_type: str, err: dict) -> str:
    """One node error in words; a missing model file named as such."""
    info = err.get("extra_info") or {}
    details = str(err.get("details", ""))
    input_name = info.get("input_name") or details.split(":")[0].split(",")[0].strip()
    value = info.get("received_value")
    if err.get("type") == "value_not_in_list":
        config = info.get("input_config")
        choices = config[0] if isinstance(config, list) and config and isinstance(config[0], list) else []
        has = f" (it has: {', '.join(map(str, choices[:5]))}{', ...' if len(choices) > 5 else ''})" if choices else ""
        if input_name in MODEL_INPUTS or MODEL_FILE.search(str(value or "")):
            fix = " or set -o checkpoint=NAME" if input_name == "ckpt_name" else ""
            return (f"node {node_id} ({class_type}) needs the model file {value!r} ({input_name}), which the "
                    f"server does not have{has}: put the file in ComfyUI's models folder{fix}")
        return f"node {node_id} ({class_type}): {input_name} {value!r} is not a value the server accepts{has}"
    return f"node {node_id} ({class_type}): {err.get('message', 'invalid')}: {_short(details, 120)}"


# ---------------------------------------------------------------- sizes and pictures
def generation_size(width: int, height: int, multiple: int, max_pixels: int | None) -> tuple[int, int]:
    """The size to generate: the request's, scaled down to about max_pixels, each side a multiple of multiple."""
    if width < 8 or height < 8:
        raise UsageError(f"comfyui: the picture size {width}x{height} is too small for a diffusion model")
    scale = min(1.0, math.sqrt(max_pixels / (width * height))) if max_pixels else 1.0
    # at full size round up (at least one generated pixel per picture pixel); scaled down, to the nearest
    # multiple (which keeps the aspect closer)
    to_multiple = math.ceil if scale == 1.0 else round
    return (max(multiple, int(to_multiple(width * scale / multiple)) * multiple),
            max(multiple, int(to_multiple(height * scale / multiple)) * multiple))


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """The picture scaled to cover width x height and cut to it around its centre."""
    from PIL import Image, ImageOps

    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)


def _json(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"
