"""Picture screening: the safety checker screen, the diffusers illustrator's redraws and storybook fallback, and
the screen records of the storybook and openai illustrators.

The safety checkers are tiny randomly initialised ``StableDiffusionSafetyChecker`` models (a 2-layer CLIP at
32x32 pixels) built and saved here, with their concept thresholds set so that one flags every picture and the
other none; they are loaded back through the real ``from_pretrained(local_files_only=True)`` path. The diffusion
pipeline is built like the tiny one of test_diffusers_illustrator.py (its tokenizer helper), with a VAE that
scales by 8 as real ones do, so that a whole story's frames draw in seconds on a CPU.
"""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from storymode.errors import UsageError
from storymode.illustrators.fallback import ContentFallbackWarning, storybook_fallback
from storymode.illustrators.prompting import scene_seed
from storymode.safety.pictures import (CONSTRUCTION_REASON, ConstructionScreen, PictureVerdict, SafetyCheckerScreen,
                                       installed_safety_checker)

from .conftest import probe, run_cli
from .test_diffusers_illustrator import HAVE_DIFFUSERS, _request, _write_tokenizer, needs_diffusers

UNSCREENED = "pictures are not screened: the safety checker is not installed"


# ---------------------------------------------------------------- tiny checkers, saved and loaded for real
def _save_checker(folder: Path, flag_everything: bool) -> Path:
    """A tiny random safety checker whose concept thresholds flag every picture, or none.

    The checker flags a picture when cos(picture, concept) - threshold > 0 for a concept; a cosine lies in
    [-1, 1], so a threshold of -2 is always passed and one of 2 never."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    from storymode.safety.pictures import _image_processor_class

    small = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2}
    tokens = {"vocab_size": 99, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    config = CLIPConfig(text_config={**small, **tokens},
                        vision_config={**small, "image_size": 32, "patch_size": 4}, projection_dim=32)
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-2.0 if flag_everything else 2.0)
        checker.special_care_embeds_weights.fill_(2.0)
    checker.save_pretrained(folder)
    _image_processor_class()(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> Path:
    """A tiny random Stable Diffusion pipeline saved as a diffusers folder; its VAE has 4 blocks (scale 8) and no
    attention, so a 480p frame takes seconds, not minutes."""
    if not HAVE_DIFFUSERS:
        pytest.skip("torch/diffusers/transformers not installed")
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from storymode.illustrators.prompting import CLIP_TOKEN_LIMIT

    root = tmp_path_factory.mktemp("fast-sd")
    tokenizer = CLIPTokenizer(*map(str, _write_tokenizer(root / "tok-src")), model_max_length=CLIP_TOKEN_LIMIT)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=2)
    vae = AutoencoderKL(block_out_channels=(4, 4, 4, 4), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=2, mid_block_add_attention=False)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        vocab_size=len(tokenizer), max_position_embeddings=CLIP_TOKEN_LIMIT))
    scheduler = EulerDiscreteScheduler.from_config({
        "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
        "timestep_spacing": "trailing", "prediction_type": "epsilon", "steps_offset": 1})
    pipe = StableDiffusionPipeline(unet=unet, scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                                   tokenizer=tokenizer, safety_checker=None, feature_extractor=None,
                                   image_encoder=None, requires_safety_checker=False)
    pipe.save_pretrained(root / "pipeline")
    return root / "pipeline"


@pytest.fixture(scope="module")
def checkers(tmp_path_factory) -> dict[str, Path]:
    """Two saved tiny checkers: 'all' flags every picture, 'none' flags nothing."""
    if not HAVE_DIFFUSERS:
        pytest.skip("torch/diffusers/transformers not installed")
    root = tmp_path_factory.mktemp("checkers")
    return {"all": _save_checker(root / "flags-all", True), "none": _save_checker(root / "flags-none", False)}


@pytest.fixture()
def empty_hub(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face home: no safety checker is installed."""
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return tmp_path / "hf-home"


def _illustrator(pipeline: Path, **options):
    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator

    return DiffusersIllustrator(DiffusersIllustrator.Options(model=str(pipeline), steps=1, device="cpu", **options))


def _draw(illustrator, request=None):
    """The picture and the warnings raised while drawing it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        picture = illustrator.illustrate(request or _request(0))
    return picture, [w for w in caught if issubclass(w.category, UserWarning)]


def _pixels(image):
    import numpy as np

    return np.asarray(image.convert("RGB"), dtype=np.int16)


# ---------------------------------------------------------------- the screens themselves
@needs_diffusers
def test_safety_checker_screen_flags_by_its_thresholds(checkers):
    from PIL import Image

    picture = Image.new("RGB", (80, 48), (200, 120, 40))
    flagged = SafetyCheckerScreen(str(checkers["all"])).check(picture)
    passed = SafetyCheckerScreen(str(checkers["none"])).check(picture)
    assert flagged == PictureVerdict(True, "flags-all", flagged.reason) and "matched" in flagged.reason
    assert passed.flagged is False and passed.screen == "flags-none"
    assert _pixels(picture).mean() > 100  # the checker blacks out its own copy, never the caller's picture


def test_construction_screen_never_flags_and_the_storybook_records_it():
    from PIL import Image

    from storymode.illustrators.storybook import StorybookIllustrator

    assert ConstructionScreen().check(Image.new("RGB", (8, 8))) == PictureVerdict(False, "construction",
                                                                                  CONSTRUCTION_REASON)
    picture = StorybookIllustrator().illustrate(_request(0, size=(96, 64)))
    assert picture.drawn["screen"] == {"by": "construction", "outcome": "passed"}
    assert picture.image.size == (96, 64)


def test_a_missing_checker_is_a_usage_error_that_says_how_to_get_it(tmp_path, empty_hub):
    with pytest.raises(UsageError, match=r"safety checker folder .*no-checker does not exist"):
        SafetyCheckerScreen(str(tmp_path / "no-checker"))
    with pytest.raises(UsageError, match=r"not in the local Hugging Face cache .*`hf download someone/checker`"):
        SafetyCheckerScreen("someone/checker")
    assert installed_safety_checker() is None


def test_an_installed_default_checker_is_found_in_the_cache_without_network(empty_hub):
    snapshot = empty_hub / "hub" / "models--CompVis--stable-diffusion-safety-checker" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("a" * 40)
    (snapshot / "config.json").write_text("{}")
    assert installed_safety_checker() is None  # a config without weights is not an installed checker
    (snapshot / "model.safetensors").write_bytes(b"")
    assert installed_safety_checker() == str(snapshot)


def test_the_storybook_fallback_helper_warns_naming_the_scene():
    with pytest.warns(ContentFallbackWarning, match=r"^scene 3: it was refused; it was drawn by the storybook"):
        picture = storybook_fallback(_request(2, size=(64, 48)), "someone", "it was refused")
    assert picture.drawn["backend"] == "storybook" and picture.drawn["fallback_for"] == "someone"
    assert picture.image.size == (64, 48)


# ---------------------------------------------------------------- the diffusers illustrator, screened
@needs_diffusers
def test_a_picture_the_checker_passes_is_returned(tiny_pipeline, checkers):
    unscreened, said_off = _draw(_illustrator(tiny_pipeline, safety_checker="off"))
    picture, said = _draw(_illustrator(tiny_pipeline, safety_checker=str(checkers["none"])))
    assert not said and not said_off
    assert picture.drawn["screen"] == {"by": "flags-none", "flagged_seeds": [], "outcome": "passed"}
    assert unscreened.drawn["screen"] == {"by": None, "flagged_seeds": [], "outcome": "unscreened"}
    assert picture.drawn["backend"] == "diffusers" and picture.drawn["seed"] == scene_seed(11, 0)
    assert (_pixels(picture.image) == _pixels(unscreened.image)).all()  # the model's own picture, unchanged


@needs_diffusers
def test_flagged_pictures_are_redrawn_then_drawn_by_the_storybook(tiny_pipeline, checkers):
    from storymode.illustrators.storybook import StorybookIllustrator

    request = _request(1, size=(64, 48))
    model_picture, _ = _draw(_illustrator(tiny_pipeline, safety_checker="off"), request)
    picture, said = _draw(_illustrator(tiny_pipeline, safety_checker=str(checkers["all"]), redraws=2), request)
    seed = scene_seed(11, 1)
    screen = picture.drawn["screen"]
    assert screen == {"by": "flags-all", "flagged_seeds": [seed, seed + 1_000_003, seed + 2_000_006],
                      "outcome": "fallback"}
    assert len(set(screen["flagged_seeds"])) == 3
    assert picture.drawn["backend"] == "storybook" and picture.drawn["fallback_for"] == "diffusers"
    assert [str(w.message) for w in said] == [
        "scene 2: the safety checker (flags-all) flagged the picture on all 3 seeds tried; it was drawn by the "
        "storybook illustrator instead"]
    assert said[0].category is ContentFallbackWarning
    assert picture.image.size == (64, 48)
    storybook = StorybookIllustrator().illustrate(request).image
    assert (_pixels(picture.image) == _pixels(storybook)).all()  # the storybook's picture ...
    assert abs(_pixels(picture.image) - _pixels(model_picture.image)).mean() > 5  # ... not the model's


@needs_diffusers
def test_no_redraws_falls_back_after_the_first_flag(tiny_pipeline, checkers):
    picture, said = _draw(_illustrator(tiny_pipeline, safety_checker=str(checkers["all"]), redraws=0))
    assert picture.drawn["screen"]["flagged_seeds"] == [scene_seed(11, 0)]
    assert picture.drawn["screen"]["outcome"] == "fallback"
    assert [str(w.message) for w in said] == [
        "scene 1: the safety checker (flags-all) flagged the picture on 1 seed tried; it was drawn by the storybook "
        "illustrator instead"]


@needs_diffusers
def test_a_missing_checker_folder_is_a_usage_error_before_drawing(tiny_pipeline, tmp_path):
    with pytest.raises(UsageError, match=r"no-such-checker does not exist .*hf download CompVis/stable-diffusion"):
        _illustrator(tiny_pipeline, safety_checker=str(tmp_path / "no-such-checker"))


@needs_diffusers
def test_auto_without_a_checker_draws_unscreened_and_says_so_once(tiny_pipeline, empty_hub):
    illustrator = _illustrator(tiny_pipeline)
    first, said_first = _draw(illustrator, _request(0))
    second, said_second = _draw(illustrator, _request(1))
    assert [str(w.message) for w in said_first] == [
        UNSCREENED + " (hf download CompVis/stable-diffusion-safety-checker)"]
    assert said_second == []
    assert first.drawn["screen"]["outcome"] == second.drawn["screen"]["outcome"] == "unscreened"
    assert first.drawn["backend"] == "diffusers"


@needs_diffusers
def test_auto_uses_the_default_checker_when_it_is_in_the_cache(tiny_pipeline, checkers, empty_hub):
    snapshot = empty_hub / "hub" / "models--CompVis--stable-diffusion-safety-checker" / "snapshots" / ("b" * 40)
    shutil.copytree(checkers["all"], snapshot)  # stands in for the real checker: it flags everything
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("b" * 40)
    picture, said = _draw(_illustrator(tiny_pipeline, redraws=0))
    assert picture.drawn["screen"] == {"by": "CompVis/stable-diffusion-safety-checker", "outcome": "fallback",
                                       "flagged_seeds": [scene_seed(11, 0)]}
    assert [w.category for w in said] == [ContentFallbackWarning]


@needs_diffusers
def test_auto_uses_the_pipelines_own_checker(tiny_pipeline, checkers, tmp_path, empty_hub):
    """A pipeline saved with a safety checker: auto reads its output's nsfw_content_detected, and redraws."""
    pipeline = tmp_path / "with-checker"
    shutil.copytree(tiny_pipeline, pipeline)
    shutil.copytree(checkers["all"], pipeline / "safety_checker")
    (pipeline / "feature_extractor").mkdir()
    shutil.move(pipeline / "safety_checker" / "preprocessor_config.json", pipeline / "feature_extractor")
    index = json.loads((pipeline / "model_index.json").read_text())
    index.update(safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"],
                 feature_extractor=["transformers", "CLIPImageProcessor"], requires_safety_checker=True)
    (pipeline / "model_index.json").write_text(json.dumps(index))
    illustrator = _illustrator(pipeline, redraws=1)
    picture, said = _draw(illustrator)
    assert illustrator.pipeline().safety_checker is not None  # the pipeline's own checker ran
    assert picture.drawn["screen"] == {"by": "pipeline safety checker", "outcome": "fallback",
                                       "flagged_seeds": [scene_seed(11, 0), scene_seed(11, 0) + 1_000_003]}
    assert [w.category for w in said] == [ContentFallbackWarning]
    assert _pixels(picture.image).std() > 10  # not the pipeline's blacked-out picture


# ---------------------------------------------------------------- the whole story, through the CLI
@pytest.mark.slow
@needs_diffusers
def test_cli_story_with_every_picture_flagged_still_renders(tiny_pipeline, checkers, tmp_path):
    from PIL import Image

    proc = run_cli("make", "a fox", "-o", "x.mp4", "--scenes", "2", "--resolution", "480p", "--aspect", "1:1",
                   "--fps", "24", "--illustrator", "diffusers", "-o", f"illustrator.model={tiny_pipeline}",
                   "-o", "illustrator.steps=1", "-o", "illustrator.device=cpu", "-o", "redraws=1",
                   "-o", f"safety_checker={checkers['all']}", "--progress", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    said = [e["message"] for e in events if e["kind"] == "warning" and e.get("stage") == "illustrate"]
    for scene in (1, 2):
        assert f"scene {scene}: the safety checker (flags-all) flagged the picture on all 2 seeds tried; it was " \
               f"drawn by the storybook illustrator instead" in said
    art = tmp_path / "x.storymode" / "art"
    records = [json.loads(path.read_text()) for path in art.glob("*.json")]
    assert len(records) == 2 and all(len(r["screen"]["flagged_seeds"]) == 2 for r in records)
    assert all(r["screen"]["outcome"] == "fallback" and r["fallback_for"] == "diffusers" for r in records)
    for png in art.glob("*.png"):  # the storybook's pictures, at the size the diffusers illustrator was asked for
        with Image.open(png) as picture:
            assert picture.size == (544, 544) and _pixels(picture).std() > 10
    info = probe(tmp_path / "x.mp4")
    assert (info["video"]["width"], info["video"]["height"]) == (480, 480) and info["duration"] > 1
