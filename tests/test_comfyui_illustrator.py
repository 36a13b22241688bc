"""The comfyui illustrator against a real local server that speaks ComfyUI's HTTP and websocket protocol
(tests/servers/comfyui_server.py, a separate process): the two shipped workflows, the user's own workflows
(placeholders and node titles), refusals that name the node and the file, cancelling on timeout and Ctrl-C, and a
whole story through the CLI with a token that must never be written anywhere."""
from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from storymode.errors import BackendError, UsageError
from storymode.illustrators.base import IllustrationRequest
from storymode.illustrators.prompting import build_prompt, scene_seed
from storymode.story import Brief, Character
from storymode.timeline import frame_size, with_zoom_margin

from .conftest import check_story_video, need, run_cli, wait_until

SERVER = Path(__file__).parent / "servers" / "comfyui_server.py"
WORKFLOWS = Path(__file__).resolve().parents[1] / "storymode" / "illustrators" / "workflows"
KEY = "sk-test-SECRET-1234567890"
CAST = (Character(id="pip", name="Pip", kind="red fox", description="small, blue scarf"),
        Character(id="olga", name="Olga", kind="old owl", description="round spectacles"))
BRIEF = Brief(setting="forest", time_of_day="dusk", characters=["pip", "olga"], action="Pip shows Olga a lantern",
              props=["lantern"], mood="curious")
WIDTH, HEIGHT = with_zoom_margin(*frame_size("16:9", "480p"))  # 968x544, what the pipeline asks for at 480p


# ---------------------------------------------------------------- the server and helpers
@pytest.fixture(autouse=True)
def _websockets() -> None:
    """The illustrator's websocket client (the comfyui extra; in the test extra, so required under CI)."""
    need(importlib.util.find_spec("websockets"), 'websockets is not installed: pip install "storymode[comfyui]"')


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    """The test server (a real process on a free loopback port) and its request log."""
    log = tmp_path_factory.mktemp("comfyui") / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(SERVER), "--log", str(log)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), proc.stderr.read()
        server = {"url": f"http://127.0.0.1:{int(line.split()[1])}", "log": log}
        wait_until(lambda: _get(server, "/system_stats"), timeout=30, what="the ComfyUI test server")
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _get(server: dict, path: str):
    import httpx

    try:
        return httpx.get(server["url"] + path, timeout=5, trust_env=False).json()
    except httpx.HTTPError:
        return None


def requests(server: dict, method: str | None = None, path: str | None = None) -> list[dict]:
    """The server's logged requests, optionally only those of one method and path (a prefix)."""
    rows = [json.loads(x) for x in server["log"].read_text().splitlines()]
    return [r for r in rows if (method is None or r["method"] == method)
            and (path is None or r["path"].startswith(path))]


def sent_graph(server: dict, prompt_id: str) -> dict:
    """The graph that POST /prompt carried for that prompt (matched through the history)."""
    history = _get(server, f"/history/{prompt_id}")[prompt_id]
    return history["prompt"][2]


def idle(server: dict) -> bool:
    queue = _get(server, "/queue")
    return bool(queue) and not queue["queue_running"] and not queue["queue_pending"]


def illustrator(server: dict, **options):
    from storymode.illustrators.comfyui import ComfyUIIllustrator

    return ComfyUIIllustrator(ComfyUIIllustrator.Options(base_url=server["url"], **options))


def request(index: int = 0, brief: Brief = BRIEF, seed: int = 7) -> IllustrationRequest:
    return IllustrationRequest(brief=brief, cast=CAST, scene_text="", scene_index=index, scene_count=2,
                               style="storybook", seed=seed, width=WIDTH, height=HEIGHT)


def by_class(graph: dict, class_type: str) -> list[dict]:
    return [n["inputs"] for n in graph.values() if n["class_type"] == class_type]


def write_workflow(path: Path, graph: dict) -> Path:
    path.write_text(json.dumps(graph))
    return path


def shipped(name: str) -> dict:
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


# ---------------------------------------------------------------- the shipped workflows
@pytest.mark.parametrize("workflow", ["sdxl", "flux-schnell"])
def test_shipped_workflow_draws_each_scene_with_its_seed_prompt_and_size(comfy, workflow):
    ill = illustrator(comfy, workflow=workflow)
    first, second, again = ill.illustrate(request(0)), ill.illustrate(request(1)), ill.illustrate(request(0))
    for picture in (first, second, again):
        assert picture.image.size == (WIDTH, HEIGHT) and picture.image.mode == "RGB"
    pixels = [np.asarray(p.image, dtype=float) for p in (first, second, again)]
    assert np.abs(pixels[0] - pixels[1]).mean() > 10  # another scene seed, another picture
    assert np.abs(pixels[0] - pixels[2]).mean() < 1  # the same scene draws the same
    assert pixels[0].std() > 5

    graph = sent_graph(comfy, first.drawn["prompt_id"])
    expected = build_prompt(BRIEF, CAST, "storybook", story_seed=7, scene_index=0)
    texts = [n["text"] for n in by_class(graph, "CLIPTextEncode")]
    assert expected.prompt in texts and "a red fox (small, blue scarf)" in expected.prompt
    assert by_class(graph, "KSampler")[0]["seed"] == scene_seed(7, 0) == first.drawn["seed"]
    latent = by_class(graph, "EmptyLatentImage" if workflow == "sdxl" else "EmptySD3LatentImage")[0]
    assert (latent["width"], latent["height"]) == (1024, 576) == tuple(first.drawn["generated_size"])
    ckpt = by_class(graph, "CheckpointLoaderSimple")[0]["ckpt_name"]
    sampler = by_class(graph, "KSampler")[0]
    if workflow == "sdxl":
        assert ckpt == "sd_xl_base_1.0.safetensors" and expected.negative_prompt in texts
    else:
        assert ckpt == "flux1-schnell-fp8.safetensors" and (sampler["steps"], sampler["cfg"]) == (4, 1.0)
        assert expected.negative_prompt not in texts and first.drawn["negative_prompt"] == ""
    ws_ids = {r["query"]["clientId"] for r in requests(comfy, "WS")}
    posted = [r["body"] for r in requests(comfy, "POST", "/prompt")]
    assert posted[-1]["client_id"] == ill.client_id and ill.client_id in ws_ids
    assert ill.credit_lines() == [f"Pictures made with ComfyUI ({workflow})"]


def test_the_shipped_workflows_are_api_format_graphs_the_server_validates(comfy):
    import httpx

    for name in ("sdxl", "flux-schnell"):
        reply = httpx.post(comfy["url"] + "/prompt", json={"prompt": shipped(name), "client_id": "check"},
                           trust_env=False)
        assert reply.status_code == 200 and reply.json()["node_errors"] == {}, reply.text
    wait_until(lambda: idle(comfy), timeout=30, what="the queue to empty")


def test_a_big_frame_is_generated_within_the_models_pixels_and_cover_fitted(comfy):
    ill = illustrator(comfy, workflow="sdxl")
    big = IllustrationRequest(brief=BRIEF, cast=CAST, scene_text="", scene_index=0, scene_count=1, style="storybook",
                              seed=3, width=2176, height=1224)  # 1080p with the zoom margin
    picture = ill.illustrate(big)
    gen_w, gen_h = picture.drawn["generated_size"]
    assert picture.image.size == (2176, 1224)
    assert gen_w % 64 == 0 and gen_h % 64 == 0 and gen_w * gen_h <= 1.25 * 1024 * 1024
    assert abs(gen_w / gen_h - 2176 / 1224) < 0.03


# ---------------------------------------------------------------- the user's own workflows
def test_user_workflow_with_placeholders(comfy, tmp_path):
    graph = shipped("sdxl")
    for node in graph.values():
        node.pop("_meta", None)
    graph["6"]["inputs"]["text"] = "masterpiece, {{prompt}}, best quality"
    graph["7"]["inputs"]["text"] = "{{ negative }}"
    graph["3"]["inputs"]["seed"] = "{{seed}}"
    graph["5"]["inputs"].update(width="{{width}}", height="{{height}}")
    picture = illustrator(comfy, workflow=str(write_workflow(tmp_path / "mine.json", graph))).illustrate(request(1))
    sent = sent_graph(comfy, picture.drawn["prompt_id"])
    expected = build_prompt(BRIEF, CAST, "storybook", story_seed=7, scene_index=1)
    assert sent["6"]["inputs"]["text"] == f"masterpiece, {expected.prompt}, best quality"
    assert sent["7"]["inputs"]["text"] == expected.negative_prompt
    assert sent["3"]["inputs"]["seed"] == scene_seed(7, 1)  # a number, not the text of one
    assert (sent["5"]["inputs"]["width"], sent["5"]["inputs"]["height"]) == (1024, 576)
    assert picture.drawn["bound"] == {"prompt": ["6.text"], "negative": ["7.text"], "seed": ["3.seed"],
                                      "width": ["5.width"], "height": ["5.height"]}


def test_user_workflow_with_titles_and_its_own_node_ids(comfy, tmp_path):
    renumber = {"4": "10", "5": "11", "6": "12", "7": "13", "3": "14", "8": "15", "9": "16"}
    graph = {}
    for old, node in shipped("sdxl").items():
        inputs = {k: [renumber[v[0]], v[1]] if isinstance(v, list) else v for k, v in node["inputs"].items()}
        graph[renumber[old]] = {**node, "inputs": inputs}
    graph["12"]["_meta"]["title"] = "  Storymode   Prompt "  # titles are read without case or extra spaces
    del graph["13"]["_meta"]  # no negative input: the workflow keeps its own
    picture = illustrator(comfy, workflow=str(write_workflow(tmp_path / "titled.json", graph))).illustrate(request())
    sent = sent_graph(comfy, picture.drawn["prompt_id"])
    assert sent["12"]["inputs"]["text"] == build_prompt(BRIEF, CAST, "storybook", story_seed=7, scene_index=0).prompt
    assert sent["13"]["inputs"]["text"] == "text, watermark, blurry"
    assert sent["14"]["inputs"]["seed"] == scene_seed(7, 0) and sent["11"]["inputs"]["width"] == 1024
    assert set(picture.drawn["bound"]) == {"prompt", "seed", "width", "height"}


def test_a_workflow_without_a_seed_input_warns_once(comfy, tmp_path):
    graph = shipped("flux-schnell")
    del graph["31"]["_meta"]
    ill = illustrator(comfy, workflow=str(write_workflow(tmp_path / "noseed.json", graph)))
    with pytest.warns(UserWarning, match="names no seed input"):
        picture = ill.illustrate(request())
    assert picture.drawn["seed"] is None and picture.image.size == (WIDTH, HEIGHT)


def test_unusable_workflows_are_refused_before_any_request(tmp_path):
    from storymode.illustrators.comfyui import ComfyUIIllustrator

    def refused(graph_or_text, name="wf.json") -> str:
        path = tmp_path / name
        path.write_text(graph_or_text if isinstance(graph_or_text, str) else json.dumps(graph_or_text))
        with pytest.raises(UsageError) as err:
            ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(path)))
        return str(err.value)

    graph = shipped("sdxl")
    del graph["6"]["_meta"]
    message = refused(graph)
    assert "names no prompt input" in message and "{{prompt}}" in message and "storymode prompt" in message
    assert "API format" in refused({"last_node_id": 9, "nodes": [], "links": []})
    assert "not valid JSON" in refused("{ nope")
    graph = shipped("sdxl")
    graph["3"]["inputs"]["seed"] = ["99", 0]
    assert "is a link" in refused(graph)
    with pytest.raises(UsageError, match="no such file"):
        ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(tmp_path / "missing.json")))
    with pytest.raises(UsageError, match="no checkpoint loader"):
        graph = shipped("sdxl")
        graph["4"]["class_type"] = "UNETLoader"
        graph["4"]["inputs"] = {"unet_name": "x.safetensors", "weight_dtype": "default"}
        ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(write_workflow(tmp_path / "u.json", graph)),
                                                      checkpoint="y.safetensors"))


def test_options_are_checked_and_the_fingerprint_holds_no_path_key_or_timeout(tmp_path, monkeypatch):
    from storymode import registry
    from storymode.illustrators.comfyui import ComfyUIIllustrator

    with pytest.raises(UsageError, match="base_url"):
        registry.parse_options(ComfyUIIllustrator, {"base_url": "ftp://example"})
    with pytest.raises(UsageError, match="not an option"):
        registry.parse_options(ComfyUIIllustrator, {"model": "x"})
    (tmp_path / "a").mkdir()
    here = write_workflow(tmp_path / "a" / "w.json", shipped("sdxl"))
    there = write_workflow(tmp_path / "b.json", shipped("sdxl"))
    monkeypatch.setenv("COMFY_TEST_KEY", KEY)
    one = ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(here), api_key_env="COMFY_TEST_KEY",
                                                        timeout=5)).fingerprint()
    two = ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(there))).fingerprint()
    assert two == ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(there))).fingerprint()  # no client id
    text = json.dumps(one)
    assert KEY not in text and str(tmp_path) not in text and "timeout" not in text
    assert one["options"]["workflow_sha256"] == two["options"]["workflow_sha256"]
    edited = shipped("sdxl")
    edited["3"]["inputs"]["steps"] = 30
    write_workflow(there, edited)
    three = ComfyUIIllustrator(ComfyUIIllustrator.Options(workflow=str(there))).fingerprint()
    assert three["options"]["workflow_sha256"] != two["options"]["workflow_sha256"]


# ---------------------------------------------------------------- what the server refuses, named
def test_a_missing_node_type_names_the_node_and_the_workflow(comfy, tmp_path):
    graph = shipped("sdxl")
    graph["8"]["class_type"] = "FancyVAEDecode"
    ill = illustrator(comfy, workflow=str(write_workflow(tmp_path / "fancy.json", graph)))
    with pytest.raises(UsageError) as err:
        ill.illustrate(request())
    message = str(err.value)
    assert "'FancyVAEDecode'" in message and "node 8" in message and "fancy.json" in message
    assert "custom node" in message


def test_a_missing_model_file_names_the_node_and_the_file(comfy):
    with pytest.raises(UsageError) as err:
        illustrator(comfy, workflow="sdxl", checkpoint="dreamshaper_8.safetensors").illustrate(request())
    message = str(err.value)
    assert "node 4 (CheckpointLoaderSimple)" in message and "'dreamshaper_8.safetensors'" in message
    assert "sd_xl_base_1.0.safetensors" in message and "models folder" in message  # what it has, what to do


def test_a_failing_node_is_a_backend_error_naming_it(comfy):
    brief = BRIEF.model_copy(update={"action": "the lantern EXPLODE s"})
    with pytest.raises(BackendError, match=r"node 3 \(KSampler\).*out of memory"):
        illustrator(comfy).illustrate(request(brief=brief))
    wait_until(lambda: idle(comfy), timeout=30, what="the queue to empty")


def test_no_server_is_a_clear_error_and_the_probe_says_so():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    ill = illustrator({"url": f"http://127.0.0.1:{port}"})
    with pytest.raises(BackendError, match="nothing answered.*is ComfyUI running"):
        ill.illustrate(request())
    ok, why = ill.reachable()
    assert not ok and "base_url" in why


def test_reachable_when_the_server_answers(comfy):
    assert illustrator(comfy).reachable() == (True, "")


# ---------------------------------------------------------------- cancelling
SLOW = BRIEF.model_copy(update={"action": "Pip naps, SLOWPOKE"})


def test_timeout_cancels_the_running_prompt(comfy):
    ill = illustrator(comfy, timeout=1.5)
    with pytest.raises(BackendError) as err:
        ill.illustrate(request(brief=SLOW))
    assert "within 1.5 s" in str(err.value) and "the prompt was cancelled" in str(err.value)
    prompt_id = requests(comfy, "POST", "/interrupt")[-1]["body"]["prompt_id"]
    assert [prompt_id] in [r["body"]["delete"] for r in requests(comfy, "POST", "/queue")]
    wait_until(lambda: idle(comfy), timeout=30, what="the interrupted prompt to stop")
    history = _get(comfy, f"/history/{prompt_id}")[prompt_id]
    assert history["prompt"][3]["client_id"] == ill.client_id  # it was this illustrator's prompt
    assert history["status"]["status_str"] == "error" and not history["outputs"]
    assert illustrator(comfy).illustrate(request()).image.size == (WIDTH, HEIGHT)  # the server is free again


def test_timeout_takes_a_waiting_prompt_out_of_the_queue_and_leaves_others_running(comfy):
    import httpx

    other = httpx.post(comfy["url"] + "/prompt", json={"prompt": _slow_graph(), "client_id": "someone-else"},
                       trust_env=False).json()["prompt_id"]
    wait_until(lambda: _running(comfy) == [other], timeout=30, what="the other prompt to run")
    ill = illustrator(comfy, timeout=1.0)
    with pytest.raises(BackendError, match="still waiting in the server's queue"):
        ill.illustrate(request())
    mine = [r for r in requests(comfy, "POST", "/prompt") if r["body"]["client_id"] == ill.client_id]
    assert len(mine) == 1
    deleted = [r["body"]["delete"] for r in requests(comfy, "POST", "/queue")]
    interrupted = [r["body"].get("prompt_id") for r in requests(comfy, "POST", "/interrupt")]
    queue = _get(comfy, "/queue")
    assert [item[1] for item in queue["queue_pending"]] == []  # mine was taken out
    assert _running(comfy) == [other] and other not in interrupted  # someone else's prompt was left alone
    assert deleted and all(other not in d for d in deleted)
    httpx.post(comfy["url"] + "/interrupt", json={"prompt_id": other}, trust_env=False)
    wait_until(lambda: idle(comfy), timeout=30, what="the other prompt to stop")


def _slow_graph() -> dict:
    graph = shipped("sdxl")
    graph["6"]["inputs"]["text"] = "SLOWPOKE"
    return graph


def _running(server: dict) -> list[str]:
    return [item[1] for item in (_get(server, "/queue") or {}).get("queue_running", [])]


def test_ctrl_c_cancels_the_prompt_and_stops(comfy, tmp_path):
    script = tmp_path / "draw.py"
    script.write_text(
        "import sys\n"
        "from storymode.illustrators.base import IllustrationRequest\n"
        "from storymode.illustrators.comfyui import ComfyUIIllustrator\n"
        "from storymode.story import Brief\n"
        "ill = ComfyUIIllustrator(ComfyUIIllustrator.Options(base_url=sys.argv[1], timeout=300))\n"
        "brief = Brief(action='a fox naps, SLOWPOKE')\n"
        "ill.illustrate(IllustrationRequest(brief=brief, cast=(), scene_text='', scene_index=0, scene_count=1,\n"
        "                                   style='storybook', seed=1, width=968, height=544))\n")
    proc = subprocess.Popen([sys.executable, str(script), comfy["url"]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        running = wait_until(lambda: _running(comfy), timeout=60, what="the slow prompt to run")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
    assert {"prompt_id": running[0]} in [r["body"] for r in requests(comfy, "POST", "/interrupt")]
    wait_until(lambda: idle(comfy), timeout=30, what="the interrupted prompt to stop")


# ---------------------------------------------------------------- a whole story through the CLI
@pytest.mark.slow
def test_a_whole_story_through_the_cli_with_a_token_that_is_never_written(comfy, tmp_path):
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--resolution", "480p",
                   "--illustrator", "comfyui", "-o", f"base_url={comfy['url']}", "-o", "workflow=flux-schnell",
                   "-o", "api_key_env=COMFY_TEST_KEY", cwd=tmp_path, env={"COMFY_TEST_KEY": KEY})
    assert proc.returncode == 0, proc.stderr
    check_story_video(tmp_path / "fox.mp4", 854, 480)
    from PIL import Image

    story_dir = tmp_path / "fox.storymode"
    arts = sorted((story_dir / "art").glob("*.png"))
    assert len(arts) == 2
    for art in arts:
        with Image.open(art) as img:
            assert img.size == (WIDTH, HEIGHT)
    drawn = [json.loads(p.read_text()) for p in sorted((story_dir / "art").glob("*.json"))]
    assert {d["backend"] for d in drawn} == {"comfyui"} and len({d["seed"] for d in drawn}) == 2
    # the token went to the server, in the header only, and nowhere else
    mine = [r for r in requests(comfy) if r["path"] in ("/prompt", "/ws")
            and r["headers"].get("authorization") == f"Bearer {KEY}"]
    assert {r["path"] for r in mine} == {"/prompt", "/ws"}
    assert KEY not in proc.stdout + proc.stderr
    for path in [tmp_path / "fox.mp4", *story_dir.rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_a_named_token_variable_that_is_not_set_is_a_usage_error(comfy, monkeypatch):
    monkeypatch.delenv("COMFY_UNSET_KEY", raising=False)
    with pytest.raises(UsageError, match="COMFY_UNSET_KEY"):
        illustrator(comfy, api_key_env="COMFY_UNSET_KEY").illustrate(request())
