"""Title and end cards: text over a darkened, blurred scene picture, drawn with Pillow."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
REGULAR = FONT_DIR / "DejaVuSans.ttf"


def _fit_lines(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    words, lines, current = text.split(), [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _backdrop(picture: np.ndarray, darken: float) -> Image.Image:
    img = Image.fromarray(picture).filter(ImageFilter.GaussianBlur(radius=max(2, picture.shape[1] // 160)))
    return Image.blend(img, Image.new("RGB", img.size, (10, 12, 30)), darken)


def _draw_block(img: Image.Image, blocks: list[tuple[str, ImageFont.FreeTypeFont, tuple[int, int, int]]]) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    laid: list[tuple[str, ImageFont.FreeTypeFont, tuple[int, int, int], int]] = []
    gap = int(min(w, h) * 0.025)
    for n, (text, font, colour) in enumerate(blocks):
        for line in _fit_lines(draw, text, font, int(w * 0.84))[:4]:
            ascent, descent = font.getmetrics()
            laid.append((line, font, colour, ascent + descent))
        if n == 0 and len(blocks) > 1:
            laid.append(("", font, colour, gap))  # breathing room under the heading
    total = sum(height for *_, height in laid) + gap * max(0, len(laid) - 1)
    y = (h - total) // 2
    for line, font, colour, height in laid:
        x = (w - draw.textlength(line, font=font)) / 2
        draw.text((x, y), line, font=font, fill=colour, stroke_width=max(1, height // 18), stroke_fill=(0, 0, 0))
        y += height + gap


def title_card(picture: np.ndarray, title: str) -> np.ndarray:
    """The opening frame: the title, large, over the first picture."""
    img = _backdrop(picture, 0.45)
    short = min(img.size)
    _draw_block(img, [(title, ImageFont.truetype(str(BOLD), int(short * 0.085)), (255, 244, 214))])
    return np.asarray(img)


def end_card(picture: np.ndarray, credits: list[str]) -> np.ndarray:
    """The closing frame: 'The End' and the credits, over the last picture."""
    img = _backdrop(picture, 0.6)
    short = min(img.size)
    blocks = [("The End", ImageFont.truetype(str(BOLD), int(short * 0.09)), (255, 244, 214))]
    small = ImageFont.truetype(str(REGULAR), int(short * 0.03))
    blocks += [(line, small, (225, 225, 235)) for line in credits]
    _draw_block(img, blocks)
    return np.asarray(img)
