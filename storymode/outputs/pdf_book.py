"""The printable picture book: a PDF with a cover, one page per scene (the picture full-bleed over the top, the
text below) and a credits page, made with WeasyPrint from HTML and CSS.

Pages are cut to the trim size of ``job.page_size`` (see ``base.PAGE_SIZES``); ``bleed_mm`` adds a bleed area
around every page (recorded as the PDF's TrimBox) for a print shop that asks for one. Pictures are resampled to
exactly 300 dpi at their printed size (Pillow LANCZOS, JPEG quality 90): pictures below that are upscaled, and
the credits page says so ("Pictures upscaled from N dpi for print"); ``effective_dpi(job)`` gives N to a caller
that wants to report it. Fonts are the DejaVu faces shipped with storymode, embedded (subset) in the PDF.
"""
from __future__ import annotations

import html
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from ..composers.cards import BOLD, REGULAR
from ..errors import UsageError
from ..story import NARRATOR, Story
from .base import PAGE_SIZES, ExportJob

PRINT_DPI = 300
JPEG_QUALITY = 90
MAX_BLEED_MM = 10.0
SAFE_WIDTH_SHOWN = 0.78  # a scene picture keeps at least this share of its width when cropped to its band
PICTURE_BAND = (0.45, 0.55)  # the scene picture's band: from 45% to 55% of the page height
TEXT_LEVELS_PT = (20.0, 18.0, 16.0, 14.5, 13.0, 12.0, 11.0)  # .size-N in pdf_book.css, largest first
BOOK_LEVEL_FLOOR = 3  # one long scene may not shrink the whole book's text below TEXT_LEVELS_PT[3]
# inches, on a scene page: the top margin (the picture covers it; a page that continues a long scene's text
# starts below it), the bottom margin that holds the page number, the text's side margins and its gap below the
# picture
SCENE_TOP_MARGIN, SCENE_BOTTOM_MARGIN, TEXT_SIDE, TEXT_GAP = 0.6, 0.55, 0.8, 0.4
TEMPLATE = Path(__file__).resolve().parent / "templates" / "pdf_book.css"


@dataclass(frozen=True)
class Layout:
    """The book's geometry in inches: the trim, the bleed and the scene picture's band (below the top edge)."""

    page_w: float
    page_h: float
    bleed: float
    band_h: float
    text_w: float
    text_h: float

    def cover_area(self) -> tuple[float, float]:
        """The cover picture's printed size, bleed included."""
        return self.page_w + 2 * self.bleed, self.page_h + 2 * self.bleed

    def scene_area(self) -> tuple[float, float]:
        """A scene picture's printed size, bleed included (top and sides)."""
        return self.page_w + 2 * self.bleed, self.band_h + self.bleed


def page_layout(job: ExportJob, bleed_mm: float = 0.0) -> Layout:
    """The geometry for the job's page size and the timeline's picture shape; a UsageError for an unknown size."""
    if job.page_size not in PAGE_SIZES:
        raise UsageError(f"unknown page size {job.page_size!r}; choose one of: {', '.join(PAGE_SIZES)}")
    if not 0.0 <= bleed_mm <= MAX_BLEED_MM:
        raise UsageError(f"a bleed of {bleed_mm} mm is not usable; give 0 to {MAX_BLEED_MM:g} mm (3 is usual)")
    page_w, page_h = PAGE_SIZES[job.page_size]
    shape = job.timeline.height / job.timeline.width
    low, high = PICTURE_BAND
    band_h = min(max(page_w * shape / SAFE_WIDTH_SHOWN, low * page_h), high * page_h)
    text_w = page_w - 2 * TEXT_SIDE
    text_h = page_h - band_h - TEXT_GAP - SCENE_BOTTOM_MARGIN
    return Layout(page_w, page_h, bleed_mm / 25.4, band_h, text_w, text_h)


def _picture_path(job: ExportJob, image: str) -> Path:
    path = Path(image)
    return path if path.is_absolute() else job.story_dir / path


def _dpi(size: tuple[int, int], area: tuple[float, float]) -> float:
    """The dots per inch a picture of size pixels gives when it covers area inches (cover-fit: the tighter side)."""
    return min(size[0] / area[0], size[1] / area[1])


def _header_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise UsageError(f"picture {path} is missing; run `storymode illustrate` again") from None
    except (UnidentifiedImageError, OSError) as err:
        raise UsageError(f"picture {path} cannot be read as an image ({err}); delete it and run again") from None


def effective_dpi(job: ExportJob, bleed_mm: float = 0.0) -> int:
    """The lowest resolution (dots per inch, rounded down) of any picture at its printed size in the book
    (the cover included); below PRINT_DPI, write_pdf upscales and the credits page names this figure."""
    layout = page_layout(job, bleed_mm)
    scenes = _book_scenes(job.story, job)
    if not scenes:
        return PRINT_DPI
    cover = _header_size(_picture_path(job, scenes[0][1]))
    lows = [_dpi(cover, layout.cover_area())]
    lows += [_dpi(_header_size(_picture_path(job, image)), layout.scene_area()) for _, image in scenes]
    return math.floor(min(lows))


def _book_scenes(story: Story, job: ExportJob) -> list[tuple[int, str]]:
    """(story scene index, picture) for each timeline scene that has a story scene, in timeline order."""
    by_id = {s.id: n for n, s in enumerate(story.scenes)}
    out = []
    for scene in job.timeline.scenes:
        index = by_id.get(scene.scene_id, scene.index)
        if 0 <= index < len(story.scenes):
            out.append((index, scene.image))
    return out


def _drawn_focus(source: Path) -> tuple[float, float] | None:
    """The centre of the characters drawn in a picture, from the illustrator's record beside it (art/KEY.json,
    "boxes": id -> [x0, y0, x1, y1] in pixels); None when there is no usable record."""
    import json

    try:
        boxes = json.loads(source.with_suffix(".json").read_text(encoding="utf-8")).get("boxes") or {}
        corners = [[float(v) for v in box] for box in boxes.values()]
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    corners = [c for c in corners if len(c) == 4 and all(math.isfinite(v) for v in c)]
    if not corners:
        return None
    x0, y0 = min(c[0] for c in corners), min(c[1] for c in corners)
    x1, y1 = max(c[2] for c in corners), max(c[3] for c in corners)
    return (x0 + x1) / 2, (y0 + y1) / 2


def _crop_start(focus: float | None, crop: float, side: float) -> float:
    """Where a crop of length crop starts along a side: centred on focus (the picture's middle when None),
    kept inside the picture."""
    centre = side / 2 if focus is None else focus
    return min(max(0.0, centre - crop / 2), side - crop)


def _print_picture(source: Path, area: tuple[float, float], out: Path) -> float:
    """Crop source to area's shape (centred on the characters drawn, else on the middle), resample it to
    PRINT_DPI at area's size, save it as JPEG at out; returns the source's effective dpi at that size."""
    from PIL import Image

    from ..composers.frames import open_picture

    rgb = open_picture(source)  # checks the size from the header before decoding
    dpi = _dpi(rgb.size, area)
    target = (round(area[0] * PRINT_DPI), round(area[1] * PRINT_DPI))
    crop_w = min(rgb.width, target[0] / PRINT_DPI * dpi)  # min: the tighter side is the whole picture
    crop_h = min(rgb.height, target[1] / PRINT_DPI * dpi)
    focus_x, focus_y = _drawn_focus(source) or (None, None)
    left = _crop_start(focus_x, crop_w, rgb.width)
    top = _crop_start(focus_y, crop_h, rgb.height)
    printed = rgb.resize(target, Image.Resampling.LANCZOS, box=(left, top, left + crop_w, top + crop_h))
    printed.save(out, format="JPEG", quality=JPEG_QUALITY, dpi=(PRINT_DPI, PRINT_DPI))
    return dpi


def _print_pictures(job: ExportJob, layout: Layout, scenes: list[tuple[int, str]], tmp: Path
                    ) -> tuple[list[Path], float]:
    """The cover's picture then each scene's, ready for print in tmp; and the lowest effective dpi among them."""
    jobs = [(_picture_path(job, scenes[0][1]), layout.cover_area(), tmp / "cover.jpg")]
    jobs += [(_picture_path(job, image), layout.scene_area(), tmp / f"scene-{n}.jpg")
             for n, (_, image) in enumerate(scenes)]
    # Pillow releases the GIL while it resamples and encodes, so threads use every core
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        dpis = list(pool.map(lambda args: _print_picture(*args), jobs))
    return [out for _, _, out in jobs], min(dpis)


def _line_html(line_text: str, speaker: str, names: dict[str, str]) -> str:
    """A line as a paragraph: narration as it is, speech as the speaker's name then the quoted words."""
    words = html.escape(line_text)
    if speaker == NARRATOR:
        return f"<p>{words}</p>"
    who = html.escape(names.get(speaker, speaker))
    return f'<p class="speech"><span class="who">{who}</span> \u201c{words}\u201d</p>'


def _fits(paragraphs: list[int], size_pt: float, layout: Layout) -> bool:
    """Whether paragraphs of these lengths (characters) should fit below the picture at size_pt, by an estimate
    (DejaVu Sans averages about 0.53 em a character; 0.5 em between paragraphs); the render checks it."""
    per_line = layout.text_w * 72 / (size_pt * 0.56)
    lines = sum(math.ceil(chars / per_line) for chars in paragraphs) + 0.35 * (len(paragraphs) - 1)
    return lines * size_pt * 1.45 <= layout.text_h * 72


def _text_levels(story: Story, scenes: list[tuple[int, str]], layout: Layout) -> list[int]:
    """Each scene's text size (an index into TEXT_LEVELS_PT): one size for the whole book, the largest at which
    every scene fits (but not below BOOK_LEVEL_FLOOR); a scene too long for it gets the largest size it fits."""
    names = {c.id: c.name for c in story.characters}
    paragraphs = [[len(line.text) + (0 if line.speaker == NARRATOR else len(names.get(line.speaker, "")) + 3)
                   for line in story.scenes[index].lines] for index, _ in scenes]
    smallest = len(TEXT_LEVELS_PT) - 1
    own = [next((n for n, size in enumerate(TEXT_LEVELS_PT) if _fits(p, size, layout)), smallest)
           for p in paragraphs]
    book = min(max(own), BOOK_LEVEL_FLOOR)
    return [max(book, level) for level in own]


def _scene_html(n: int, story: Story, index: int, picture: Path, level: int) -> str:
    names = {c.id: c.name for c in story.characters}
    lines = "".join(_line_html(line.text, line.speaker, names) for line in story.scenes[index].lines)
    return (f'<section class="scene size-{level}" id="scene-{n}">'
            f'<img class="picture" src="{picture.as_uri()}" alt="Picture for scene {n + 1}">'
            f'<div class="text">{lines}</div></section>')


def _title_pt(title: str) -> float:
    """The cover title's size: smaller for longer titles, so a long title does not hide the picture."""
    for limit, size in ((24, 40.0), (48, 32.0), (90, 26.0), (140, 21.0)):
        if len(title) <= limit:
            return size
    return 17.0


def _credits_html(story: Story, credits: list[str], low_dpi: float) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in credits)
    notes = "<p>Made with storymode.</p>"
    if low_dpi < PRINT_DPI:
        notes += (f'<p class="print-note">Pictures upscaled from {math.floor(low_dpi)} dpi for print '
                  f"({PRINT_DPI} dpi).</p>")
    return (f'<section class="credits" id="credits"><h2>{html.escape(story.title)}</h2>{notes}'
            f'{f"<ul>{items}</ul>" if items else ""}</section>')


def _sized_css(layout: Layout, title_pt: float) -> str:
    """The rules that carry numbers: fonts, page size and bleed, margins, picture boxes. Only numbers and our
    own file URIs reach this CSS, never story text."""
    b, w = layout.bleed, layout.page_w
    cover_w, cover_h = layout.cover_area()
    return (f"@page scene {{ margin: {SCENE_TOP_MARGIN}in 0 {SCENE_BOTTOM_MARGIN}in 0; }}\n"
            f".scene .text {{ padding: {TEXT_GAP}in {TEXT_SIDE}in 0; }}\n"
            f'@font-face {{ font-family: "Story Sans"; font-weight: normal; src: url("{REGULAR.as_uri()}"); }}\n'
            f'@font-face {{ font-family: "Story Sans"; font-weight: bold; src: url("{BOLD.as_uri()}"); }}\n'
            f"@page {{ size: {w:.4f}in {layout.page_h:.4f}in; bleed: {b:.4f}in; }}\n"
            f".cover img {{ left: {-b:.4f}in; top: {-b:.4f}in; width: {cover_w:.4f}in; height: {cover_h:.4f}in; }}\n"
            f".cover h1 {{ font-size: {title_pt:.1f}pt; }}\n"
            f".scene .picture {{ width: {w + 2 * b:.4f}in; height: {layout.band_h + b:.4f}in; "
            f"margin: {-b - SCENE_TOP_MARGIN:.4f}in {-b:.4f}in 0; }}\n")


def _document(job: ExportJob, layout: Layout, scenes: list[tuple[int, str]], pictures: list[Path],
              levels: list[int], low_dpi: float) -> str:
    story = job.story
    title = html.escape(story.title)
    body = [f'<section class="cover"><img src="{pictures[0].as_uri()}" alt=""><h1>{title}</h1></section>']
    body += [_scene_html(n, story, index, pictures[n + 1], levels[n])
             for n, (index, _) in enumerate(scenes)]
    body.append(_credits_html(story, job.credits, low_dpi))
    css = _sized_css(layout, _title_pt(story.title)) + TEMPLATE.read_text(encoding="utf-8")
    return (f'<!doctype html><html lang="{html.escape(story.language or "en")}"><head><meta charset="utf-8">'
            f'<title>{title}</title><meta name="generator" content="storymode">'
            f"<style>{css}</style></head><body>{''.join(body)}</body></html>")


def _local_fetcher(allowed: list[Path]):  # type: ignore[no-untyped-def]
    """A WeasyPrint URL fetcher that reads only files under the allowed folders (no network, ever) and stops
    the render when one cannot be read, rather than leaving a hole in the book."""
    from weasyprint import URLFetcher

    roots = [p.resolve() for p in allowed]

    class LocalFetcher(URLFetcher):
        """WeasyPrint's fetcher, limited to files under the allowed folders."""

        def fetch(self, url: str, headers: dict | None = None):  # type: ignore[no-untyped-def]
            """The file at a file: URL inside the allowed folders; anything else is refused."""
            parsed = urlparse(url)
            path = Path(url2pathname(parsed.path)).resolve() if parsed.scheme == "file" else None
            if path is None or not any(path.is_relative_to(root) for root in roots):
                raise ValueError(f"the PDF book reads only its own files, not {url[:80]}")
            return super().fetch(url, headers)

    return LocalFetcher(allowed_protocols={"file"}, fail_on_errors=True)


def _overflowing(document, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """The scenes whose text ran onto a further page (found by where each scene and the credits begin)."""
    first_page = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            first_page.setdefault(anchor, number)
    starts = [first_page.get(f"scene-{n}") for n in range(count)] + [first_page.get("credits")]
    return [n for n in range(count) if starts[n] is not None and starts[n + 1] is not None
            and starts[n + 1] - starts[n] > 1]


def _render(html_for, levels: list[int], base: Path, fetcher):  # type: ignore[no-untyped-def]
    """Lay the book out, stepping a scene's text size down while its text runs past its page."""
    from weasyprint import HTML

    while True:
        document = HTML(string=html_for(levels), base_url=str(base), url_fetcher=fetcher).render()
        smaller = [n for n in _overflowing(document, len(levels)) if levels[n] < len(TEXT_LEVELS_PT) - 1]
        if not smaller:
            return document  # what still runs over at the smallest size continues on the next page
        for n in smaller:
            levels[n] += 1


def write_pdf(job: ExportJob, dest: Path, *, bleed_mm: float = 0.0) -> None:
    """Write the printable picture book at dest: cover, one page per scene, credits; pictures at 300 dpi."""
    layout = page_layout(job, bleed_mm)
    scenes = _book_scenes(job.story, job)
    if not scenes:
        raise UsageError("the timeline has no scene of this story; run `storymode make` again to rebuild it")
    with tempfile.TemporaryDirectory(prefix="storymode-pdf-") as tmp:
        pictures, low_dpi = _print_pictures(job, layout, scenes, Path(tmp))
        levels = _text_levels(job.story, scenes, layout)
        fetcher = _local_fetcher([Path(tmp), REGULAR.parent])
        document = _render(lambda lv: _document(job, layout, scenes, pictures, lv, low_dpi), levels,
                           Path(tmp), fetcher)
        document.write_pdf(Path(dest))
