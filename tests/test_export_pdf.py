"""The printable PDF picture book, read back with poppler: page count and trim, embedded fonts, 300 dpi pictures,
rendered pixels, the text (hostile titles included), long scenes, bleed, and the errors a user can cause."""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from storymode.errors import UsageError
from storymode.outputs import pdf_book
from storymode.outputs.base import PAGE_SIZES, ExportJob
from storymode.outputs.pdf_book import PRINT_DPI, effective_dpi, page_layout, write_pdf

from .conftest import need

HOSTILE = '<script>alert(1)</script> & "x" ]]> {pages}'


@pytest.fixture
def poppler() -> None:
    """The poppler tools the checks read the PDF with."""
    for tool in ("pdfinfo", "pdffonts", "pdftoppm", "pdftotext", "pdfimages"):
        need(shutil.which(tool), f"{tool} is not installed: apt-get install poppler-utils")


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def _info(pdf: Path, *flags: str) -> dict[str, str]:
    """pdfinfo's fields, name -> value."""
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in _run("pdfinfo", *flags, str(pdf))
                                                  .splitlines()) if v}


HYPHEN = "\u2010"  # what WeasyPrint puts at a line end where it hyphenated a word (the text itself has "-")


def _text(pdf: Path, page: int | None = None, *, hyphenated: bool = False) -> str:
    """The text of one page (or all), whitespace collapsed, words hyphenated at line ends joined again."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    text = " ".join(_run("pdftotext", *pages, str(pdf), "-").split())
    return text if hyphenated else text.replace(HYPHEN + " ", "")


def _pages(pdf: Path, tmp: Path, dpi: int = 30) -> list[np.ndarray]:
    """Every page rendered by pdftoppm, as RGB arrays."""
    from PIL import Image

    prefix = tmp / f"{pdf.stem}-page"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True)
    files = sorted(tmp.glob(f"{prefix.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [np.asarray(Image.open(f).convert("RGB")).astype(float) for f in files]


def _story_with(job: ExportJob, **story_changes: object) -> ExportJob:
    return dataclasses.replace(job, story=job.story.model_copy(update=story_changes))


def _book(job: ExportJob, tmp: Path, name: str = "book.pdf", **options: float) -> Path:
    dest = tmp / name
    write_pdf(job, dest, **options)
    assert dest.stat().st_size > 10_000
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("size", sorted(PAGE_SIZES))
def test_book_pages_trim_fonts_and_pixels(export_job: ExportJob, tmp_path: Path, poppler: None, size: str) -> None:
    job = dataclasses.replace(export_job, page_size=size)
    pdf = _book(job, tmp_path)
    scenes = len(job.timeline.scenes)
    info = _info(pdf)
    assert int(info["Pages"]) == 1 + scenes + 1  # cover, one page per scene, credits
    width, height = (float(v) for v in re.match(r"([\d.]+) x ([\d.]+) pts", info["Page size"]).groups())
    trim_w, trim_h = PAGE_SIZES[size]
    assert abs(width - trim_w * 72) < 0.5 and abs(height - trim_h * 72) < 0.5, info["Page size"]
    assert info["Title"] == job.story.title

    fonts = _run("pdffonts", str(pdf)).splitlines()[2:]
    assert fonts, "no fonts in the PDF"
    for row in fonts:  # name type [type] encoding emb sub uni object ID: emb is the 5th field from the end
        assert row.split()[-5] == "yes", f"a font is not embedded: {row}"

    pages = _pages(pdf, tmp_path)
    assert pages[0].std() > 10, "the cover is blank"
    band = page_layout(job).band_h / trim_h
    for page in pages[1:1 + scenes]:
        h = page.shape[0]
        picture, text = page[: int(h * band * 0.95)], page[int(h * band) + 2:]
        assert picture.std(axis=(0, 1)).max() > 8, "a scene's picture area is uniform"
        assert (text.mean(axis=2) < 110).sum() > 50, "a scene's text area has no dark (text) pixels"
    assert (pages[-1].mean(axis=2) < 110).sum() > 30, "the credits page is empty"

    for n, timeline_scene in enumerate(job.timeline.scenes):
        scene = next(s for s in job.story.scenes if s.id == timeline_scene.scene_id)
        opening = " ".join(scene.lines[0].text.split()[:2])
        assert opening in _text(pdf, 2 + n), f"page {2 + n} does not start scene {scene.id}"


@pytest.mark.slow
def test_hostile_title_credits_and_print_resolution(export_job: ExportJob, tmp_path: Path, poppler: None) -> None:
    job = _story_with(export_job, title=HOSTILE)
    pdf = _book(job, tmp_path)
    squeezed = "".join(HOSTILE.split())  # the title may wrap anywhere on the page
    assert "".join(_text(pdf, 1).split()) == squeezed  # the cover shows the title as text, nothing else
    assert _info(pdf)["Title"] == HOSTILE
    credits = _text(pdf, int(_info(pdf)["Pages"]))
    assert "".join(credits.split()).startswith(squeezed)
    for line in job.credits:
        assert " ".join(line.split()) in credits

    low = effective_dpi(job)
    assert 0 < low < PRINT_DPI  # the fixture's 720p pictures are far below print resolution on A4
    assert f"Pictures upscaled from {low} dpi for print" in credits
    images = _run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    assert len(images) == 1 + len(job.timeline.scenes)
    for row in images:  # page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio
        fields = row.split()
        assert fields[8] == "jpeg" and abs(int(fields[12]) - PRINT_DPI) <= 1 and abs(int(fields[13]) - PRINT_DPI) <= 1


@pytest.mark.slow
def test_long_scene_shrinks_and_an_endless_one_continues(export_job: ExportJob, tmp_path: Path, poppler: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # every scene starts at the largest text size, so the layout check (not the estimate) must make it fit
    monkeypatch.setattr(pdf_book, "_text_levels", lambda story, scenes, layout: [0] * len(scenes))
    story = export_job.story
    sentence = "The little fox counted every star above the quiet hill, one by one, until the sky was full. "
    first = story.scenes[0].model_copy(update={"lines": [story.scenes[0].lines[0].model_copy(
        update={"text": sentence * 6})]})
    endless = [story.scenes[1].lines[0].model_copy(update={"text": f"Part {n}. " + sentence * 8})
               for n in range(12)]
    second = story.scenes[1].model_copy(update={"lines": endless})
    job = _story_with(export_job, scenes=[first, second, *story.scenes[2:]])
    pdf = _book(job, tmp_path)
    pages = int(_info(pdf)["Pages"])
    assert pages > 1 + len(job.timeline.scenes) + 1, "the endless scene should run onto further pages"
    assert _text(pdf, 2).count("counted every star") == 6, "the long first scene should fit its page"
    assert _text(pdf, 3).startswith("Part 0.")
    assert HYPHEN in _text(pdf, hyphenated=True), "hyphens: auto hyphenated nothing in pages of long lines"
    everything = _text(pdf)
    assert all(f"Part {n}." in everything for n in range(12)), "text of the endless scene is lost"
    assert _text(pdf, pages).startswith(job.story.title)


@pytest.mark.slow
def test_bleed_extends_the_pictures_past_the_trim(export_job: ExportJob, tmp_path: Path, poppler: None) -> None:
    pdf = _book(dataclasses.replace(export_job, page_size="square"), tmp_path, bleed_mm=3.0)
    boxes = _info(pdf, "-box")
    trim = [float(v) for v in boxes["TrimBox"].split()]
    media = [float(v) for v in boxes["MediaBox"].split()]
    bleed_pt = 3.0 / 25.4 * 72
    assert trim == pytest.approx([0, 0, 612, 612], abs=0.5)
    assert media == pytest.approx([-bleed_pt, -bleed_pt, 612 + bleed_pt, 612 + bleed_pt], abs=0.5)
    cover, scene = _pages(pdf, tmp_path)[:2]
    paper = np.array([255, 253, 248], float)
    for page in (cover, scene):  # the picture, not the paper, reaches the bleed's corner
        assert np.abs(page[0, 0] - paper).max() > 20 and np.abs(page[0, -1] - paper).max() > 20


def test_what_a_user_can_get_wrong(export_job: ExportJob, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="page size 'b5'.*a4"):
        write_pdf(dataclasses.replace(export_job, page_size="b5"), tmp_path / "x.pdf")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="bleed"):
        write_pdf(export_job, tmp_path / "x.pdf", bleed_mm=50)
    gone = export_job.timeline.scenes[0].model_copy(update={"image": str(tmp_path / "gone.png")})
    timeline = export_job.timeline.model_copy(update={"scenes": [gone, *export_job.timeline.scenes[1:]]})
    with pytest.raises(UsageError, match="gone.png is missing"):
        write_pdf(dataclasses.replace(export_job, timeline=timeline), tmp_path / "x.pdf")
    with pytest.raises(UsageError, match="gone.png is missing"):
        effective_dpi(dataclasses.replace(export_job, timeline=timeline))
    assert not (tmp_path / "x.pdf").exists()


def test_the_book_reads_only_its_own_files(tmp_path: Path) -> None:
    from storymode.outputs.pdf_book import _local_fetcher

    (tmp_path / "own.txt").write_text("ok")
    fetch = _local_fetcher([tmp_path])
    response = fetch((tmp_path / "own.txt").as_uri())
    assert response.read() == b"ok"
    response.close()
    for url in ("https://example.com/x.png", "file:///etc/passwd", "data:text/plain,hi"):
        with pytest.raises(ValueError):
            fetch(url)


def test_a_cropped_picture_keeps_the_characters_drawn(tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "art.png"
    canvas = Image.new("RGB", (400, 200), (0, 0, 255))
    canvas.paste((255, 0, 0), (300, 0, 400, 200))  # the character stands at the right edge
    canvas.save(picture)
    square = (1.0, 1.0)  # one inch square: the crop keeps half the width
    dpi = pdf_book._print_picture(picture, square, tmp_path / "middle.jpg")
    assert dpi == 200
    (tmp_path / "art.json").write_text('{"boxes": {"fox": [320, 60, 380, 190]}}')
    pdf_book._print_picture(picture, square, tmp_path / "focused.jpg")
    for name, red_share in (("middle.jpg", 0.0), ("focused.jpg", 0.5)):
        with Image.open(tmp_path / name) as out:
            assert out.size == (PRINT_DPI, PRINT_DPI) and out.info["dpi"] == (PRINT_DPI, PRINT_DPI)
            red = (np.asarray(out)[..., 0] > 128).mean()
        assert abs(red - red_share) < 0.05, (name, red)
