"""The illustration prompt builder, and the diffusers illustrator on a tiny randomly initialised pipeline.

The pipeline is built here from component configs (the way diffusers' own tests build
``get_dummy_components()``), saved to a temp folder, and loaded back through the real
``AutoPipelineForText2Image.from_pretrained(..., local_files_only=True)`` path by the backend. The tokenizer is
built locally too (a tiny word-level BPE vocab and merges), so nothing comes from the hub.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import warnings
from pathlib import Path

import pytest

from storymode.errors import UsageError
from storymode.illustrators.base import IllustrationRequest
from storymode.illustrators.prompting import (
    CLIP_TOKEN_LIMIT,
    STYLES,
    PromptCutWarning,
    build_prompt,
    character_seed,
    estimate_tokens,
    scene_seed,
    style_preset,
)
from storymode.story import Brief, Character
from storymode.timeline import with_zoom_margin

CAST = (
    Character(id="pip", name="Pip", kind="red fox", description="small, white-tipped tail, blue scarf"),
    Character(id="olga", name="Olga", kind="old owl", description="round spectacles, grey feathers"),
    Character(id="tom", name="Tom", kind="boy", description="yellow raincoat"),
)
BRIEF = Brief(setting="forest", time_of_day="dusk", weather="clear", characters=["pip", "olga"],
              action="Pip shows Olga a glowing lantern", props=["lantern", "willow twigs"], mood="curious")
HAVE_DIFFUSERS = all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers"))
needs_diffusers = pytest.mark.skipif(not HAVE_DIFFUSERS, reason="torch/diffusers/transformers not installed")


# ---------------------------------------------------------------- prompt builder
def test_prompt_has_style_action_and_pictured_characters_only():
    p = build_prompt(BRIEF, CAST, "storybook", story_seed=7, scene_index=0)
    assert p.prompt.startswith(STYLES["storybook"].lead)
    assert "a red fox (small, white-tipped tail, blue scarf)" in p.prompt
    assert "an old owl (round spectacles, grey feathers)" in p.prompt
    assert "yellow raincoat" not in p.prompt  # Tom is not in this picture
    assert "in a forest" in p.prompt and "lantern" in p.prompt and "dusk" in p.prompt
    assert [s.id for s in p.subjects] == ["pip", "olga"]
    assert p.negative_prompt == STYLES["storybook"].negative and "watermark" in p.negative_prompt
    assert p.tokens <= CLIP_TOKEN_LIMIT and not p.cut


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_gives_its_own_prompt_and_negative(style):
    p = build_prompt(BRIEF, CAST, style, story_seed=1, scene_index=0)
    assert p.prompt.startswith(STYLES[style].lead) and p.negative_prompt == STYLES[style].negative


def test_style_names_are_forgiving_but_unknown_ones_list_the_valid_ones():
    assert style_preset("Flat Vector").name == "flat-vector"
    assert style_preset("watercolour").name == "watercolor"
    assert style_preset("3D clay").name == "clay-3d"
    with pytest.raises(UsageError) as err:
        build_prompt(BRIEF, CAST, "cubism", story_seed=1, scene_index=0)
    assert "cubism" in str(err.value) and all(name in str(err.value) for name in STYLES)


def test_seeds_are_stable_per_scene_and_per_character():
    a = build_prompt(BRIEF, CAST, "anime", story_seed=3, scene_index=2)
    b = build_prompt(BRIEF, CAST, "anime", story_seed=3, scene_index=2)
    assert a.seed == b.seed == scene_seed(3, 2) == 4_045_822_318  # the same on every machine and run
    assert len({scene_seed(3, i) for i in range(50)}) == 50
    assert scene_seed(4, 2) != a.seed
    assert a.subjects[0].seed == character_seed(3, "pip") != character_seed(3, "olga")
    lead = build_prompt(BRIEF, CAST, "anime", story_seed=3, scene_index=5, seed_from="lead")
    assert lead.seed == character_seed(3, "pip")


def test_long_prompt_is_cut_with_a_warning_that_names_what_was_cut():
    long = Brief(setting="enchanted forest", time_of_day="night", weather="rain", characters=["pip", "olga", "tom"],
                 action="Pip and Olga and Tom walk through the dark enchanted forest looking for the lost silver "
                        "key that the old king dropped near the bubbling river under the tallest willow tree",
                 props=["lantern", "willow twigs", "silver key", "wooden bridge", "mushrooms"], mood="mysterious")
    with pytest.warns(PromptCutWarning) as record:
        p = build_prompt(long, CAST, "storybook", story_seed=1, scene_index=4)
    message = str(record[0].message)
    assert "scene 5" in message and "77 tokens" in message
    assert "style extras" in message and "mood ('mysterious mood')" in message and "'mushrooms'" in message
    assert p.cut and all(part.split(" (")[0] in message for part in p.cut)
    assert estimate_tokens(p.prompt) <= CLIP_TOKEN_LIMIT
    for s in p.subjects:  # the characters stay in the picture
        assert s.text.split(" (")[0] in p.prompt


def test_a_brief_naming_unknown_characters_is_a_clear_error():
    bad = Brief(characters=["pip", "zed"])
    with pytest.raises(UsageError, match="zed"):
        build_prompt(bad, CAST, "storybook", story_seed=1, scene_index=0)


def test_zoom_margin_keeps_multiples_of_8_and_the_aspect():
    assert with_zoom_margin(1280, 720) == (1448, 816)
    assert with_zoom_margin(720, 1280) == (816, 1448)
    w, h = with_zoom_margin(1080, 1080)
    assert w == h and w % 8 == 0 and w >= 1080 * 1.13


# ---------------------------------------------------------------- a tiny pipeline, saved and loaded for real
_WORDS = sorted({w for text in [s.lead + " " + s.extras + " " + s.negative for s in STYLES.values()]
                 + [BRIEF.action, "red fox small white-tipped tail blue scarf old owl round spectacles grey "
                                  "feathers in a forest lantern willow twigs at dusk sunset glow curious "
                                  "mood meadow day daylight boat"]
                 for w in re.findall(r"[a-z]+", text.lower())})


def _byte_chars() -> list[str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _write_tokenizer(folder: Path) -> tuple[Path, Path]:
    """A CLIP BPE tokenizer over single characters plus whole words for the words our prompts use."""
    chars = _byte_chars()
    vocab: dict[str, int] = {}
    for tok in ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]:
        vocab.setdefault(tok, len(vocab))
    ranks: dict[tuple[str, str], int] = {}
    for word in _WORDS:  # add merges so that each word ends as one token, keeping earlier words' paths
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            known = [(ranks[p], i) for i, p in enumerate(zip(pieces, pieces[1:])) if p in ranks]
            if known:
                _, i = min(known)
            else:
                i = 0
                ranks[(pieces[0], pieces[1])] = len(ranks)
            vocab.setdefault(pieces[i] + pieces[i + 1], len(vocab))
            pieces = pieces[:i] + [pieces[i] + pieces[i + 1]] + pieces[i + 2:]
    merges = [f"{a} {b}" for (a, b), _ in sorted(ranks.items(), key=lambda kv: kv[1])]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder / "vocab.json", folder / "merges.txt"


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> Path:
    """A tiny Stable Diffusion pipeline with random weights, saved as a diffusers folder."""
    if not HAVE_DIFFUSERS:
        pytest.skip("torch/diffusers/transformers not installed")
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    root = tmp_path_factory.mktemp("tiny-sd")
    vocab_file, merges_file = _write_tokenizer(root / "tok-src")
    tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=CLIP_TOKEN_LIMIT)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=2)
    vae = AutoencoderKL(block_out_channels=(4, 8), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=2)
    text_config = CLIPTextConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                 pad_token_id=tokenizer.pad_token_id, hidden_size=32, intermediate_size=37,
                                 layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2,
                                 vocab_size=len(tokenizer), max_position_embeddings=CLIP_TOKEN_LIMIT)
    text_encoder = CLIPTextModel(text_config)
    scheduler = EulerDiscreteScheduler.from_config({
        "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "timestep_spacing": "trailing", "prediction_type": "epsilon", "steps_offset": 1})
    pipe = StableDiffusionPipeline(unet=unet, scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                                   tokenizer=tokenizer, safety_checker=None, feature_extractor=None,
                                   image_encoder=None, requires_safety_checker=False)
    folder = root / "pipeline"
    pipe.save_pretrained(folder)
    return folder


def _request(index: int = 0, size: tuple[int, int] = (64, 64), seed: int = 11, style: str = "storybook",
             brief: Brief = BRIEF) -> IllustrationRequest:
    return IllustrationRequest(brief=brief, cast=CAST, scene_text="Pip shows Olga a lantern.", scene_index=index,
                               scene_count=3, style=style, seed=seed, width=size[0], height=size[1])


@pytest.fixture(scope="module")
def tiny_illustrator(tiny_pipeline):
    import torch

    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    torch.set_num_threads(1)
    return DiffusersIllustrator(DiffusersIllustrator.Options(model=str(tiny_pipeline), steps=2, device="cpu"))


@needs_diffusers
def test_tiny_pipeline_draws_the_requested_size_and_redraws_the_same(tiny_illustrator):
    import numpy as np

    first = tiny_illustrator.illustrate(_request(0))
    assert first.image.size == (64, 64) and first.image.mode == "RGB"
    again = tiny_illustrator.illustrate(_request(0))
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))  # same seed, same pixels
    other = tiny_illustrator.illustrate(_request(1))
    assert np.abs(np.asarray(first.image, np.int16) - np.asarray(other.image, np.int16)).mean() > 0.5
    drawn = first.drawn
    assert drawn["prompt"].startswith(STYLES["storybook"].lead) and "a red fox" in drawn["prompt"]
    assert drawn["seed"] == scene_seed(11, 0) and drawn["steps"] == 2
    assert drawn["model"].endswith("pipeline") and drawn["pipeline"] == "StableDiffusionPipeline"
    assert drawn["characters"] == {"pip": "a red fox (small, white-tipped tail, blue scarf)",
                                   "olga": "an old owl (round spectacles, grey feathers)"}
    assert drawn["prompt_tokens"] <= CLIP_TOKEN_LIMIT and drawn["prompt_cut"] == []
    assert tiny_illustrator.pipeline() is tiny_illustrator.pipeline()  # loaded once per instance


@needs_diffusers
def test_tiny_pipeline_wide_picture_and_tokenizer_count(tiny_illustrator):
    wide = tiny_illustrator.illustrate(_request(2, size=(96, 56)))
    assert wide.image.size == (96, 56)
    tokenizer = tiny_illustrator.pipeline().tokenizer
    assert len(tokenizer(wide.drawn["prompt"])["input_ids"]) == wide.drawn["prompt_tokens"] <= CLIP_TOKEN_LIMIT


@needs_diffusers
def test_size_not_a_multiple_of_8_is_named_not_changed(tiny_illustrator):
    with pytest.raises(UsageError) as err:
        tiny_illustrator.illustrate(_request(1, size=(854, 480)))
    assert "854x480" in str(err.value) and "multiple of 8" in str(err.value) and "scene 2" in str(err.value)


@needs_diffusers
def test_a_folder_that_is_not_a_text_to_image_pipeline_is_a_clear_error(tmp_path, tiny_pipeline):
    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    unet_only = tiny_pipeline / "unet"  # a model folder, not a pipeline
    with pytest.raises(UsageError, match="not a diffusers pipeline folder"):
        DiffusersIllustrator(DiffusersIllustrator.Options(model=str(unet_only), device="cpu")).pipeline()
    uncond = tmp_path / "ddpm"
    uncond.mkdir()
    (uncond / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "_diffusers_version": "0.30.0", "scheduler": ["diffusers", "DDPMScheduler"],
         "unet": ["diffusers", "UNet2DModel"]}))
    with pytest.raises(UsageError, match="not a text-to-image pipeline"):
        DiffusersIllustrator(DiffusersIllustrator.Options(model=str(uncond), device="cpu")).pipeline()
    with pytest.raises(UsageError, match="does not exist"):
        DiffusersIllustrator(DiffusersIllustrator.Options(model=str(tmp_path / "nope"), device="cpu")).pipeline()


@needs_diffusers
def test_a_hub_id_that_is_not_cached_says_how_to_get_it(tmp_path, monkeypatch):
    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    # no HF_HUB_OFFLINE here: the backend itself must make no request (the suite's network block fails it)
    with pytest.raises(UsageError, match="allow_download"):
        DiffusersIllustrator(DiffusersIllustrator.Options(model="someone/not-cached", device="cpu")).pipeline()


def test_options_reject_unknown_keys_and_references_need_an_ip_adapter(tmp_path):
    from pydantic import ValidationError

    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    with pytest.raises(ValidationError, match="stepz\n  Extra inputs are not permitted"):
        DiffusersIllustrator.Options(stepz=3)
    ref = tmp_path / "pip.png"
    ref.write_bytes(b"")
    with pytest.raises(UsageError, match="IP-Adapter"):
        DiffusersIllustrator(DiffusersIllustrator.Options(references={"pip": str(ref)}))
    with pytest.raises(UsageError, match="missing"):
        DiffusersIllustrator(DiffusersIllustrator.Options(ip_adapter="h94/IP-Adapter",
                                                          references={"pip": str(tmp_path / "no.png")}))


def test_without_diffusers_choosing_it_names_the_hub_extra(monkeypatch):
    import importlib.util

    from storymode import registry
    from storymode.errors import MissingDependency

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "diffusers" else real(name, *a))
    with pytest.raises(MissingDependency, match=r'needs diffusers: pip install "storymode\[hub\]"'):
        registry.create("illustrator", "diffusers")


def test_a_batch_job_drawn_by_diffusers_asks_for_a_gpu(tmp_path):
    from storymode.batch import read_jobs

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "gpu", "prompt": "a fox", "illustrator": "diffusers"}) + "\n"
                    + json.dumps({"id": "cpu", "prompt": "a fox"}) + "\n")
    found, bad = read_jobs(jobs, tmp_path / "out")
    assert not bad and {job.id: job.gpu for job in found} == {"gpu": True, "cpu": False}


@needs_diffusers
def test_presets_set_guidance_the_negative_prompt_and_the_native_size(tiny_pipeline):
    import numpy as np

    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    def draw(**options):
        ill = DiffusersIllustrator(DiffusersIllustrator.Options(model=str(tiny_pipeline), device="cpu", **options))
        return ill.illustrate(_request(0, size=(96, 56)))

    turbo = draw(preset="sd-turbo")  # one step, no guidance, so no negative prompt
    assert (turbo.drawn["steps"], turbo.drawn["guidance"], turbo.drawn["negative_prompt"]) == (1, 0.0, "")
    sd15 = draw(preset="sd15", steps=1)  # classifier-free guidance with the style's negative prompt
    assert sd15.drawn["guidance"] == 7.5 and sd15.drawn["negative_prompt"] == STYLES["storybook"].negative
    assert np.abs(np.asarray(turbo.image, np.int16) - np.asarray(sd15.image, np.int16)).mean() > 0.5
    native = draw(preset="sd-turbo", size="native")  # drawn at about 512x512 in the request's aspect, resized
    assert native.drawn["generated_size"] == [672, 392] and native.image.size == (96, 56)


# ---------------------------------------------------------------- a real model, where there is a GPU
def _cuda() -> bool:
    if not HAVE_DIFFUSERS:
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU")
def test_sd_turbo_on_gpu_512():
    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    model = os.environ.get("STORYMODE_SD_TURBO", "stabilityai/sd-turbo")
    ill = DiffusersIllustrator(DiffusersIllustrator.Options(preset="sd-turbo", model=model))
    try:
        pic = ill.illustrate(_request(0, size=(512, 512)))
    except UsageError as err:
        pytest.skip(f"SD-Turbo is not available here: {err}")
    assert pic.image.size == (512, 512) and pic.drawn["device"] == "cuda" and pic.drawn["steps"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", PromptCutWarning)
        again = ill.illustrate(_request(0, size=(512, 512)))
    assert again.drawn["seed"] == pic.drawn["seed"]
