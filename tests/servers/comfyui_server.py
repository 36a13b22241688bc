"""A small server that speaks ComfyUI's HTTP and websocket protocol, for tests (FastAPI + uvicorn + websockets).

    python tests/servers/comfyui_server.py --log requests.jsonl [--models a.safetensors,b.safetensors]

Binds 127.0.0.1 on a free port and prints ``READY <port>`` once it listens. It follows ComfyUI's server.py and
execution.py: the same routes, reply shapes, error shapes and websocket messages, with a small node table
(the node types storymode's two default workflows use) in place of the real nodes:

- ``POST /prompt`` validates the graph as ComfyUI's ``validate_prompt`` does (an unknown class_type: HTTP 400
  ``missing_node_type`` naming the node; a model file it does not have: ``node_errors`` with ``value_not_in_list``)
  and queues it; one worker runs the queue in order, like ComfyUI's prompt worker.
- Running a prompt sends ``execution_start``, ``execution_cached``, ``executing`` per node, ``progress`` per
  KSampler step (with binary preview frames between them), ``executed`` for SaveImage, ``execution_success``,
  and ``executing`` with node null once the history is written. The picture is a PNG of the EmptyLatentImage's
  size whose colours follow the KSampler's seed.
- ``GET /history/{id}``, ``GET /view``, ``GET /queue``, ``POST /queue`` (delete, clear), ``POST /interrupt``
  (optionally for one prompt_id, as newer ComfyUI does), ``GET /object_info``, ``GET /system_stats``.

Words in the prompt text steer it: ``SLOWPOKE`` makes each sampler step take 3 s (so a prompt runs a minute
unless interrupted); ``EXPLODE`` makes the sampler fail with an ``execution_error``. Every HTTP request and
websocket connection is appended to the ``--log`` file as one JSON line (method, path, query, headers, body).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import struct
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

SAMPLERS = ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "uni_pc"]
SCHEDULERS = ["normal", "karras", "exponential", "simple", "sgm_uniform"]
INT_MAX = 0xFFFFFFFFFFFFFFFF


class Server:
    """All the state: the queue, what runs, the history, the pictures, the sockets and the log."""

    def __init__(self, models: list[str], log: Path | None) -> None:
        self.models = models
        self.log_path = log
        self.number = 0
        self.pending: list[list] = []  # [number, prompt_id, prompt, extra_data, outputs], lowest number first
        self.running: dict[str, list] = {}
        self.history: dict[str, dict] = {}
        self.images: dict[tuple[str, str, str], bytes] = {}
        self.sockets: dict[str, WebSocket] = {}
        self.interrupted = False
        self.wake = asyncio.Event()

    def log(self, entry: dict) -> None:
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def queue_info(self) -> dict:
        return {"exec_info": {"queue_remaining": len(self.pending) + len(self.running)}}

    async def send(self, event: str, data: Any, sid: str | None) -> None:
        """A JSON message to one client (sid) or to all (None), as PromptServer.send_json."""
        targets = list(self.sockets.values()) if sid is None else [self.sockets[sid]] if sid in self.sockets else []
        for ws in targets:
            try:
                await ws.send_json({"type": event, "data": data})
            except Exception:  # a client that went away
                pass

    async def send_preview(self, sid: str | None) -> None:
        """A binary preview frame (event 1, then the image type 2 = PNG, then the image), as ComfyUI sends."""
        ws = self.sockets.get(sid or "")
        if ws is None:
            return
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (90, 90, 90)).save(buf, format="PNG")
        try:
            await ws.send_bytes(struct.pack(">I", 1) + struct.pack(">I", 2) + buf.getvalue())
        except Exception:
            pass


# ---------------------------------------------------------------- the node table (ComfyUI's INPUT_TYPES shapes)
def node_table(models: list[str]) -> dict[str, dict]:
    """class_type -> input types, return types, whether it is an output node."""
    size = ("INT", {"default": 1024, "min": 16, "max": 16384, "step": 8})
    return {
        "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": (list(models),)}},
                                   "output": ("MODEL", "CLIP", "VAE")},
        "CLIPTextEncode": {"input": {"required": {"text": ("STRING", {"multiline": True, "dynamicPrompts": True}),
                                                  "clip": ("CLIP",)}},
                           "output": ("CONDITIONING",)},
        "EmptyLatentImage": {"input": {"required": {"width": size, "height": size,
                                                    "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}},
                             "output": ("LATENT",)},
        "EmptySD3LatentImage": {"input": {"required": {"width": ("INT", {"default": 1024, "min": 16, "max": 16384,
                                                                         "step": 16}),
                                                       "height": ("INT", {"default": 1024, "min": 16, "max": 16384,
                                                                          "step": 16}),
                                                       "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}},
                                "output": ("LATENT",)},
        "KSampler": {"input": {"required": {
            "model": ("MODEL",), "seed": ("INT", {"default": 0, "min": 0, "max": INT_MAX}),
            "steps": ("INT", {"default": 20, "min": 1, "max": 10000}),
            "cfg": ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0}),
            "sampler_name": (SAMPLERS,), "scheduler": (SCHEDULERS,),
            "positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "latent_image": ("LATENT",),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0})}},
            "output": ("LATENT",)},
        "VAEDecode": {"input": {"required": {"samples": ("LATENT",), "vae": ("VAE",)}}, "output": ("IMAGE",)},
        "SaveImage": {"input": {"required": {"images": ("IMAGE",),
                                             "filename_prefix": ("STRING", {"default": "ComfyUI"})}},
                      "output": (), "output_node": True},
        "PreviewImage": {"input": {"required": {"images": ("IMAGE",)}}, "output": (), "output_node": True},
    }


def node_info(name: str, spec: dict) -> dict:
    """One node type as GET /object_info shows it."""
    return {"input": spec["input"], "input_order": {k: list(v) for k, v in spec["input"].items()},
            "output": list(spec["output"]), "output_is_list": [False] * len(spec["output"]),
            "output_name": list(spec["output"]), "name": name, "display_name": name, "description": "",
            "python_module": "nodes", "category": "test", "output_node": bool(spec.get("output_node"))}


# ---------------------------------------------------------------- validation (execution.validate_prompt's shapes)
def _error(kind: str, message: str, details: str, extra: dict) -> dict:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def validate_inputs(prompt: dict, node_id: str, table: dict, validated: dict) -> tuple[bool, list]:
    if node_id in validated:
        return validated[node_id]
    node = prompt[node_id]
    required = table[node["class_type"]]["input"]["required"]
    inputs = node.get("inputs", {})
    errors: list[dict] = []
    valid = True
    for name, info in required.items():
        kind = info[0]
        if name not in inputs:
            errors.append(_error("required_input_missing", "Required input is missing", name,
                                 {"input_name": name}))
            continue
        value = inputs[name]
        if isinstance(value, list):
            if len(value) != 2 or str(value[0]) not in prompt:
                errors.append(_error("bad_linked_input", "Bad linked input, must be a length-2 list of "
                                     "[node_id, slot_index]", name, {"input_name": name, "input_config": info,
                                                                     "received_value": value}))
                continue
            source = prompt[str(value[0])]
            returns = table[source["class_type"]]["output"]
            received = returns[value[1]] if isinstance(value[1], int) and value[1] < len(returns) else None
            if received != kind:
                errors.append(_error("return_type_mismatch", "Return type mismatch between linked nodes",
                                     f"{name}, received_type({received}) mismatch input_type({kind})",
                                     {"input_name": name, "input_config": info, "received_type": received,
                                      "linked_node": value}))
                continue
            if not validate_inputs(prompt, str(value[0]), table, validated)[0]:
                valid = False
            continue
        try:
            if kind == "INT":
                value = int(value)
            elif kind == "FLOAT":
                value = float(value)
            elif kind == "STRING":
                value = str(value)
        except (TypeError, ValueError) as ex:
            errors.append(_error("invalid_input_type", f"Failed to convert an input value to a {kind} value",
                                 f"{name}, {value}, {ex}", {"input_name": name, "input_config": info,
                                                            "received_value": value,
                                                            "exception_message": str(ex)}))
            continue
        limits = info[1] if len(info) > 1 else {}
        if "min" in limits and value < limits["min"]:
            errors.append(_error("value_smaller_than_min", f"Value {value} smaller than min of {limits['min']}",
                                 name, {"input_name": name, "input_config": info, "received_value": value}))
            continue
        if "max" in limits and value > limits["max"]:
            errors.append(_error("value_bigger_than_max", f"Value {value} bigger than max of {limits['max']}",
                                 name, {"input_name": name, "input_config": info, "received_value": value}))
            continue
        if isinstance(kind, list) and value not in kind:
            shown = f"(list of length {len(kind)})" if len(kind) > 20 else str(kind)
            errors.append(_error("value_not_in_list", "Value not in list", f"{name}: '{value}' not in {shown}",
                                 {"input_name": name, "input_config": None if len(kind) > 20 else info,
                                  "received_value": value}))
    result = (not errors and valid, errors)
    validated[node_id] = result
    return result


def validate_prompt(prompt: Any, table: dict) -> tuple[bool, dict | None, list[str], dict]:
    """(ok, error, outputs to run, node_errors), as ComfyUI's execution.validate_prompt."""
    if not isinstance(prompt, dict):
        return False, _error("invalid_prompt", "Invalid prompt", "the prompt is not an object", {}), [], {}
    outputs = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            title = (node.get("_meta") or {}).get("title") if isinstance(node, dict) else None
            return False, _error("missing_node_type", f"Node '{title or f'ID #{node_id}'}' has no class_type. "
                                 "The workflow may be corrupted or a custom node is missing.",
                                 f"Node ID '#{node_id}'", {"node_id": node_id, "class_type": None,
                                                           "node_title": title}), [], {}
        class_type = node["class_type"]
        if class_type not in table:
            title = (node.get("_meta") or {}).get("title", class_type)
            return False, _error("missing_node_type", f"Node '{title}' not found. The custom node may not be "
                                 "installed.", f"Node ID '#{node_id}'",
                                 {"node_id": node_id, "class_type": class_type, "node_title": title}), [], {}
        if table[class_type].get("output_node"):
            outputs.append(node_id)
    if not outputs:
        return False, _error("prompt_no_outputs", "Prompt has no outputs", "", {}), [], {}
    good: list[str] = []
    failed: list[tuple[str, list]] = []
    node_errors: dict[str, dict] = {}
    validated: dict[str, tuple[bool, list]] = {}
    for out in outputs:
        ok, reasons = validate_inputs(prompt, out, table, validated)
        if ok:
            good.append(out)
            continue
        failed.append((out, reasons))
        for node_id, (node_ok, node_reasons) in validated.items():
            if not node_ok and node_reasons:
                entry = node_errors.setdefault(node_id, {"errors": node_reasons, "dependent_outputs": [],
                                                         "class_type": prompt[node_id]["class_type"]})
                entry["dependent_outputs"].append(out)
    if not good:
        details = "\n".join(f"{e['message']}: {e['details']}" for _, errors in failed for e in errors)
        return False, _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details,
                             {}), [], node_errors
    return True, None, good, node_errors


# ---------------------------------------------------------------- "running" a prompt
def order_for(prompt: dict, outputs: list[str]) -> list[str]:
    """The nodes the outputs need, each after the nodes it reads from."""
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done:
            return
        for value in prompt[node_id].get("inputs", {}).values():
            if isinstance(value, list):
                visit(str(value[0]))
        done.append(node_id)

    for out in outputs:
        visit(out)
    return done


def picture(seed: int, width: int, height: int) -> bytes:
    """A PNG whose colours follow the seed: a horizontal gradient from one colour to another, and a disc."""
    import numpy as np
    from PIL import Image, ImageDraw

    a = np.array([(seed * 97) % 256, (seed * 57 + 80) % 256, (seed * 31 + 160) % 256], dtype=float)
    b = 255.0 - a
    ramp = np.linspace(0.0, 1.0, width)[None, :, None]
    pixels = (a * (1 - ramp) + b * ramp).repeat(height, axis=0).astype(np.uint8)
    image = Image.fromarray(pixels)
    r = max(4, min(width, height) // 5)
    cx, cy = (seed % 7 + 1) * width // 8, (seed % 5 + 1) * height // 6
    ImageDraw.Draw(image).ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(int(v) for v in b))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


async def run_prompt(state: Server, item: list) -> None:
    """One queued prompt, with ComfyUI's websocket messages, then its history."""
    number, pid, prompt, extra, outputs = item
    sid = extra.get("client_id")
    state.running[pid] = item
    state.interrupted = False
    await state.send("status", {"status": state.queue_info()}, None)
    await state.send("execution_start", {"prompt_id": pid, "timestamp": int(time.time() * 1000)}, sid)
    await state.send("execution_cached", {"nodes": [], "prompt_id": pid, "timestamp": int(time.time() * 1000)}, sid)
    words = " ".join(str(n["inputs"].get("text", "")) for n in prompt.values() if n["class_type"] == "CLIPTextEncode")
    latent = next((n["inputs"] for n in prompt.values()
                   if n["class_type"] in ("EmptyLatentImage", "EmptySD3LatentImage")), {"width": 512, "height": 512})
    ui_outputs: dict[str, dict] = {}
    executed: list[str] = []
    status, messages = "success", []
    for node_id in order_for(prompt, outputs):
        node = prompt[node_id]
        class_type, inputs = node["class_type"], node["inputs"]
        await state.send("executing", {"node": node_id, "display_node": node_id, "prompt_id": pid}, sid)
        if class_type == "KSampler":
            failure = await sample(state, pid, sid, node_id, int(inputs["steps"]), slow="SLOWPOKE" in words)
            if failure is None and "EXPLODE" in words:
                failure = "execution_error"
            if failure:
                status = "error"
                base = {"prompt_id": pid, "node_id": node_id, "node_type": class_type, "executed": executed,
                        "timestamp": int(time.time() * 1000)}
                if failure == "execution_error":
                    base.update({"exception_message": "Allocation on device would exceed allowed memory. "
                                 "(out of memory)", "exception_type": "torch.OutOfMemoryError",
                                 "traceback": ["  File \"nodes.py\", line 1, in sample\n"],
                                 "current_inputs": {}, "current_outputs": []})
                messages.append([failure, base])
                await state.send(failure, base, sid)
                break
            seed = int(inputs["seed"])
            latent = {**latent, "seed": seed}
        if class_type in ("SaveImage", "PreviewImage"):
            kind = "output" if class_type == "SaveImage" else "temp"
            prefix = str(inputs.get("filename_prefix", "ComfyUI"))
            filename = f"{prefix}_{len(state.images) + 1:05d}_.png"
            state.images[(kind, "", filename)] = picture(int(latent.get("seed", 0)), int(latent["width"]),
                                                         int(latent["height"]))
            ui = {"images": [{"filename": filename, "subfolder": "", "type": kind}]}
            ui_outputs[node_id] = ui
            await state.send("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                          "prompt_id": pid}, sid)
        executed.append(node_id)
    if status == "success":
        success = {"prompt_id": pid, "timestamp": int(time.time() * 1000)}
        messages.append(["execution_success", success])
        await state.send("execution_success", success, sid)
    state.history[pid] = {"prompt": item, "outputs": ui_outputs,
                          "status": {"status_str": status, "completed": status == "success", "messages": messages},
                          "meta": {k: {"node_id": k, "display_node": k} for k in ui_outputs}}
    state.running.pop(pid, None)
    await state.send("executing", {"node": None, "prompt_id": pid}, sid)
    await state.send("status", {"status": state.queue_info()}, None)


async def sample(state: Server, pid: str, sid: str | None, node_id: str, steps: int, slow: bool) -> str | None:
    """The KSampler's steps with progress messages; 'execution_interrupted' when /interrupt stopped it."""
    for step in range(1, steps + 1):
        waited = 0.0
        while slow and waited < 3.0 and not state.interrupted:
            await asyncio.sleep(0.05)
            waited += 0.05
        if state.interrupted:
            return "execution_interrupted"
        await state.send("progress", {"value": step, "max": steps, "prompt_id": pid, "node": node_id}, sid)
        await state.send_preview(sid)
        await asyncio.sleep(0)
    return None


async def worker(state: Server) -> None:
    """ComfyUI's prompt worker: the lowest number first, one at a time."""
    while True:
        while not state.pending:
            state.wake.clear()
            await state.wake.wait()
        state.pending.sort(key=lambda it: it[0])
        await run_prompt(state, state.pending.pop(0))


# ---------------------------------------------------------------- the app
def make_app(state: Server) -> FastAPI:
    table = node_table(state.models)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(worker(state))
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    async def logged(request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state.log({"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                   "headers": dict(request.headers), "body": body})
        return body

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        state.log({"method": "WS", "path": "/ws", "query": dict(ws.query_params), "headers": dict(ws.headers),
                   "body": None})
        sid = ws.query_params.get("clientId") or uuid.uuid4().hex
        state.sockets[sid] = ws
        try:
            await state.send("status", {"status": state.queue_info(), "sid": sid}, sid)
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if state.sockets.get(sid) is ws:
                del state.sockets[sid]

    @app.post("/prompt")
    async def post_prompt(request: Request) -> Response:
        data = await logged(request)
        if not isinstance(data, dict) or "prompt" not in data:
            return JSONResponse({"error": {"type": "no_prompt", "message": "No prompt provided",
                                           "details": "No prompt provided", "extra_info": {}},
                                 "node_errors": {}}, status_code=400)
        ok, error, outputs, node_errors = validate_prompt(data["prompt"], table)
        if not ok:
            return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
        extra = dict(data.get("extra_data") or {})
        if "client_id" in data:
            extra["client_id"] = data["client_id"]
        pid = str(data.get("prompt_id") or uuid.uuid4())
        number = state.number
        state.number += 1
        state.pending.append([number, pid, data["prompt"], extra, outputs])
        state.wake.set()
        await state.send("status", {"status": state.queue_info()}, None)
        return JSONResponse({"prompt_id": pid, "number": number, "node_errors": node_errors})

    @app.get("/prompt")
    async def get_prompt(request: Request) -> Response:
        await logged(request)
        return JSONResponse(state.queue_info())

    @app.get("/queue")
    async def get_queue(request: Request) -> Response:
        await logged(request)
        return JSONResponse({"queue_running": list(state.running.values()), "queue_pending": state.pending})

    @app.post("/queue")
    async def post_queue(request: Request) -> Response:
        data = await logged(request) or {}
        if data.get("clear"):
            state.pending.clear()
        for pid in data.get("delete", []):
            state.pending[:] = [it for it in state.pending if it[1] != pid]
        return Response(status_code=200)

    @app.post("/interrupt")
    async def post_interrupt(request: Request) -> Response:
        data = await logged(request)
        wanted = data.get("prompt_id") if isinstance(data, dict) else None
        if wanted is None or wanted in state.running:
            state.interrupted = True
        return Response(status_code=200)

    @app.get("/history/{prompt_id}")
    async def get_history(prompt_id: str, request: Request) -> Response:
        await logged(request)
        return JSONResponse({prompt_id: state.history[prompt_id]} if prompt_id in state.history else {})

    @app.get("/view")
    async def view(request: Request) -> Response:
        await logged(request)
        q = request.query_params
        filename = q.get("filename", "")
        if not filename or filename.startswith("/") or ".." in filename:
            return Response(status_code=400)
        png = state.images.get((q.get("type", "output"), q.get("subfolder", ""), filename))
        if png is None:
            return Response(status_code=404)
        return Response(png, media_type="image/png", headers={"Content-Disposition": f'filename="{filename}"'})

    @app.get("/object_info")
    async def object_info(request: Request) -> Response:
        await logged(request)
        return JSONResponse({name: node_info(name, spec) for name, spec in table.items()})

    @app.get("/object_info/{node_class}")
    async def object_info_node(node_class: str, request: Request) -> Response:
        await logged(request)
        spec = table.get(node_class)
        return JSONResponse({node_class: node_info(node_class, spec)} if spec else {})

    @app.get("/system_stats")
    async def system_stats(request: Request) -> Response:
        await logged(request)
        return JSONResponse({"system": {"os": "posix", "comfyui_version": "0.3.test", "python_version": "3",
                                        "embedded_python": False, "argv": ["main.py"]}, "devices": []})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", type=Path)
    parser.add_argument("--models", default="sd_xl_base_1.0.safetensors,flux1-schnell-fp8.safetensors",
                        help="comma-separated checkpoint file names the server has")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections wait in the backlog until uvicorn serves them
    state = Server([m for m in args.models.split(",") if m], args.log)
    config = uvicorn.Config(make_app(state), log_level="warning", ws="websockets-sansio", lifespan="on")
    print(f"READY {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
