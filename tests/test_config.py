"""Settings precedence: defaults < storymode.toml (+ profile) < STORYMODE_* < flags; -o KEY=VALUE placement."""
from __future__ import annotations

import pytest

from storymode.config import looks_like_option, parse_option, place_options, resolve_settings
from storymode.errors import UsageError
from storymode.registry import DEFAULTS


def test_precedence(tmp_path):
    cfg = tmp_path / "storymode.toml"
    cfg.write_text('scenes = 4\naspect = "1:1"\nseed = 5\n[options.composer]\npreset = "fast"\n'
                   '[profiles.phone]\naspect = "9:16"\n')
    assert resolve_settings(config=cfg, environ={}).scenes == 4
    assert resolve_settings(config=cfg, environ={"STORYMODE_SCENES": "9"}).scenes == 9
    settings = resolve_settings({"scenes": 2}, config=cfg, environ={"STORYMODE_SCENES": "9"})
    assert settings.scenes == 2 and settings.seed == 5 and settings.options["composer"]["preset"] == "fast"
    assert resolve_settings(config=cfg, profile="phone", environ={}).aspect == "9:16"
    assert resolve_settings(environ={}).scenes == 6  # built-in default
    with pytest.raises(UsageError, match="no profile 'tablet'"):
        resolve_settings(config=cfg, profile="tablet", environ={})


def test_options_placed_on_the_backend_that_has_them():
    chosen = dict(DEFAULTS)
    assert place_options(["threads=2", "composer.crf=18"], chosen) == {"narrator": {"threads": 2},
                                                                       "composer": {"crf": 18}}
    with pytest.raises(UsageError, match="no chosen backend"):
        place_options(["nothing=1"], chosen)
    assert parse_option("preset=fast") == (None, "preset", "fast")
    assert looks_like_option("a=1") and not looks_like_option("fox.mp4") and not looks_like_option("out/x.mp4")


def test_api_takes_settings_resolved_once(tmp_path):
    import storymode
    from storymode.config import resolve_settings, with_options

    settings = with_options(resolve_settings({"scenes": 1}, environ={}), {"writer": {"shape": "fable"}})
    story = storymode.write("a fox who learns to share", story_dir=tmp_path / "f.storymode", settings=settings)
    assert len(story.scenes) == 1
    with pytest.raises(TypeError, match="already resolved; do not also pass scenes"):
        storymode.write("a fox", story_dir=tmp_path / "g.storymode", settings=settings, scenes=2)
