"""The read-aloud EPUB 3 book: a cover, a title page, one page per scene (its picture and its text) and a credits
page. Each scene's narration is one MP3 file with a Media Overlay (SMIL) that has a reading system light up each
word of the page as it is read, sentence by sentence.

The pages, the overlays, the package document (OPF), the navigation document and the zip container are all
written here with the standard library (EPUB 3 needs no NCX), so the book needs no EPUB library."""
from __future__ import annotations

import datetime
import html
import io
import os
import re
import stat
import tempfile
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..composers.frames import open_picture
from ..errors import UsageError
from ..story import NARRATOR, Scene, Story
from ..timeline import Cue, TimelineScene
from .base import ExportJob
from .scene_audio import align_words, audio_span, scene_cues_words, spoken_words, write_scene_mp3

MAX_PICTURE_SIDE = 1600
JPEG_QUALITY = 85
ACTIVE_CLASS = "mo-active"  # the class a reading system puts on the word being read (media:active-class)
MIN_CLIP_S = 0.01  # a word whose clip would be shorter is read within the previous word's clip
BOOK_ID_NAMESPACE = uuid.UUID("6f1d3c2e-5b0a-4c8e-9d57-2b4f8e1a7c30")  # storymode's books: uuid5(this, story)
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_WHEN = {"dawn": "at dawn", "day": "in the daytime", "dusk": "at dusk", "night": "at night"}
_WEATHER = {"clear": "", "clouds": "under clouds", "rain": "in the rain", "snow": "in the snow", "wind": "in the wind",
            "fog": "in the fog", "storm": "in a storm"}
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # control characters and the like
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")

STYLE = """\
body { margin: 0 4%; color: #2d2a26; font-family: Georgia, "DejaVu Serif", serif; line-height: 1.55; }
h1 { font-size: 2em; line-height: 1.2; text-align: center; margin: 1em 0 0.5em; }
h2 { font-size: 1.4em; margin: 1em 0 0.5em; }
figure { margin: 1em 0; text-align: center; }
img { max-width: 100%; max-height: 65vh; height: auto; }
.cover figure { margin: 0; }
.cover img { max-height: 80vh; }
.subtitle, .cast { text-align: center; }
.line { margin: 0.6em 0; }
.speech .who { font-family: "DejaVu Sans", sans-serif; font-size: 0.8em; font-weight: bold; color: #9a4415;
               margin-right: 0.3em; }
.credits li { margin: 0.3em 0; }
""" + f".{ACTIVE_CLASS} {{ background-color: #ffd95a; color: #000; border-radius: 0.2em; }}\n"

_XHTML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="{lang}" \
xml:lang="{lang}">
<head>
<meta charset="UTF-8"/>
<title>{title}</title>
<link rel="stylesheet" type="text/css" href="{css}"/>
</head>
<body epub:type="{body_type}">
{body}
</body>
</html>
"""

_SMIL = """<?xml version="1.0" encoding="UTF-8"?>
<smil xmlns="http://www.w3.org/ns/SMIL" xmlns:epub="http://www.idpf.org/2007/ops" version="3.0">
<body>
{body}
</body>
</smil>
"""

_NAV_BODY = """<nav epub:type="toc" id="toc" role="doc-toc">
<h2>Contents</h2>
<ol>
{toc}
</ol>
</nav>
<nav epub:type="landmarks" id="landmarks">
<h2>Guide</h2>
<ol>
{landmarks}
</ol>
</nav>"""

_OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="book-id" xml:lang="{lang}">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
{metadata}
</metadata>
<manifest>
{manifest}
</manifest>
<spine>
{spine}
</spine>
</package>
"""

_CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0">
<rootfiles>
<rootfile full-path="EPUB/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles>
</container>
"""

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every zip entry's time: the same book is the same bytes (but for dcterms:modified)


def _x(text: str) -> str:
    """Text (or an attribute value) escaped for XHTML and SMIL, less the characters XML cannot hold."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


@dataclass(frozen=True)
class _Word:
    """A word shown on a page: its element id, text, and the line and sentence it belongs to."""

    id: str
    text: str
    line: int
    sentence: str


@dataclass(frozen=True)
class _Clip:
    """What is lit while a clip of the page's audio plays (a word's or a sentence's element id), the sentence
    holding it, and the clip (seconds from the start of the page's audio file)."""

    target: str
    sentence: str
    begin: float
    end: float


@dataclass(frozen=True)
class _Media:
    """What one scene page needs made from files: its picture as JPEG, and its narration as MP3 with the length
    of the audio and the timeline second the file starts at (None when the scene is silent)."""

    jpeg: bytes
    mp3: bytes | None = None
    duration: float = 0.0
    audio_start: float = 0.0


@dataclass(frozen=True)
class _Spread:
    """A timeline scene, its place in the story and its page number."""

    scene: TimelineScene
    story_scene: Scene
    number: int

    @property
    def name(self) -> str:
        """The base name of the page's files (scene-01 and so on)."""
        return f"scene-{self.number:02d}"


def _language(story: Story) -> str:
    """The story's language as a language tag; a UsageError when it is not one."""
    language = (story.language or "en").strip()
    if not _LANGUAGE_TAG.match(language):
        raise UsageError(f"the story's language {language[:40]!r} is not a language tag like 'en' or 'pt-BR'; "
                         "fix \"language\" in story.json")
    return language


def book_identifier(story: Story) -> str:
    """A stable identifier for the book: the same story (same content) always gets the same one."""
    return f"urn:uuid:{uuid.uuid5(BOOK_ID_NAMESPACE, story.model_dump_json())}"


def _spreads(job: ExportJob) -> list[_Spread]:
    """The timeline's scenes paired with the story's, in timeline order (scenes the story lacks are left out)."""
    by_id = {s.id: n for n, s in enumerate(job.story.scenes)}
    out: list[_Spread] = []
    for scene in job.timeline.scenes:
        index = by_id.get(scene.scene_id, scene.index)
        if index < len(job.story.scenes):
            out.append(_Spread(scene, job.story.scenes[index], len(out) + 1))
    if not out:
        raise UsageError("the story has no scenes on its timeline to put in a book; run `storymode compose` again")
    return out


def _jpeg(path: str) -> bytes:
    """A picture as JPEG, at the story folder's size but at most MAX_PICTURE_SIDE on its long side."""
    from PIL import Image

    picture = open_picture(path)
    picture.thumbnail((MAX_PICTURE_SIDE, MAX_PICTURE_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def _media(job: ExportJob, spread: _Spread, tmp: Path) -> _Media:
    """The page's picture and narration, made from the story folder's files."""
    jpeg = _jpeg(spread.scene.image)
    span = audio_span(job.timeline, spread.scene)
    if span is None:
        return _Media(jpeg)
    mp3 = tmp / f"{spread.name}.mp3"
    duration = write_scene_mp3(job.timeline, spread.scene, span.start, span.end, mp3)
    return _Media(jpeg, mp3.read_bytes(), duration, span.start)


def _all_media(job: ExportJob, spreads: list[_Spread]) -> list[_Media]:
    """Every page's media; pictures and MP3 encodes run side by side (each encode is its own ffmpeg process)."""
    with tempfile.TemporaryDirectory(prefix="storymode-epub-") as tmp:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            return list(pool.map(lambda spread: _media(job, spread, Path(tmp)), spreads))


# ---------------------------------------------------------------- the scene pages and their overlays
def _words(story_scene: Scene) -> list[_Word]:
    """The page's words in reading order, each with its ids (w1, w2 ...; sentences s1, s2 ...)."""
    words: list[_Word] = []
    sentence = 0
    for line_number, line in enumerate(story_scene.lines, start=1):
        starts_sentence = True
        for text in line.text.split():
            if starts_sentence:
                sentence += 1
            words.append(_Word(f"w{len(words) + 1}", text, line_number, f"s{sentence}"))
            starts_sentence = bool(_SENTENCE_END.search(text))
    return words


def _sentences_html(words: list[_Word]) -> str:
    """A line's words as sentence spans holding word spans."""
    runs: list[list[_Word]] = []
    for word in words:
        if runs and runs[-1][0].sentence == word.sentence:
            runs[-1].append(word)
        else:
            runs.append([word])
    return " ".join(f'<span class="sentence" id="{run[0].sentence}">'
                    + " ".join(f'<span id="{w.id}">{_x(w.text)}</span>' for w in run) + "</span>"
                    for run in runs)


def _alt_text(story: Story, story_scene: Scene) -> str:
    """A short description of a scene's picture, from its illustration brief: what happens, who, where, when."""
    brief = story_scene.brief
    cast = {c.id: c for c in story.characters}
    who = [f"{cast[i].name} the {cast[i].kind}" for i in brief.characters if i in cast]
    place = ", ".join(p for p in (f"the {brief.setting}", _WHEN[brief.time_of_day], _WEATHER[brief.weather]) if p)
    parts = [brief.action.strip().rstrip("."), _and_list(who) if who else "", place]
    return "Picture: " + " ".join(p[0].upper() + p[1:] + "." for p in parts if p)


def _scene_body(story: Story, spread: _Spread, words: list[_Word]) -> str:
    """The scene page's body: its picture and its lines (speakers named before their quoted words)."""
    names = {c.id: c.name for c in story.characters}
    paragraphs = []
    for number, line in enumerate(spread.story_scene.lines, start=1):
        spans = _sentences_html([w for w in words if w.line == number])
        if line.speaker == NARRATOR:
            paragraphs.append(f'<p class="line" id="l{number}">{spans}</p>')
        else:
            who = _x(names.get(line.speaker, line.speaker))
            paragraphs.append(f'<p class="line speech" id="l{number}"><span class="who">{who}</span> '
                              f'\u201c{spans}\u201d</p>')
    return (f'<section class="scene" epub:type="chapter" aria-label="Page {spread.number}">\n'
            f'<figure><img src="../images/{spread.name}.jpg" alt="{_x(_alt_text(story, spread.story_scene))}"/>'
            f'</figure>\n<div class="text" id="text">\n' + "\n".join(paragraphs) + "\n</div>\n</section>")


def _estimated(cue: Cue) -> bool:
    """Whether a caption's word times were shared out by length (the narrator timed only the sentence) rather
    than measured: back to back, each as long as its share of the letters."""
    words = cue.words
    if len(words) < 2:
        return False
    per_letter = (words[-1].end - words[0].start) / (sum(len(w.text) for w in words) or 1)
    return (all(abs(a.end - b.start) < 1e-6 for a, b in zip(words, words[1:]))
            and all(abs(w.end - w.start - per_letter * len(w.text)) < 1e-4 for w in words))


def _word_starts(job: ExportJob, spread: _Spread, words: list[_Word]) -> dict[int, tuple[float, bool]]:
    """For each shown word that is spoken: when it starts (timeline seconds) and whether that time is estimated."""
    scene = spread.scene
    guessed = [(c.start, c.end) for c in job.timeline.cues if scene.start <= c.start < scene.end and _estimated(c)]
    spoken = spoken_words(scene_cues_words(job.timeline, scene))
    starts: dict[int, tuple[float, bool]] = {}
    for (_, start, _), index in zip(spoken, align_words([w.text for w in words], spoken)):
        if index >= 0:
            starts.setdefault(index, (start, any(a - 1e-6 <= start <= b for a, b in guessed)))
    return starts


def _clips(job: ExportJob, spread: _Spread, words: list[_Word], media: _Media) -> list[_Clip]:
    """What the overlay lights and when: each word from when it is spoken until the next one is, or the whole
    sentence where its word times are only estimated (the whole text when no word is timed). The first clip
    starts at the file's start and the last runs to its end, so the clips play the whole file (seconds from the
    file's start)."""
    starts = _word_starts(job, spread, words)
    estimated = {words[i].sentence for i, (_, guess) in starts.items() if guess}
    timed: list[tuple[str, str, float]] = []  # element id, sentence id, begin
    for index in sorted(starts):
        word = words[index]
        target = word.sentence if word.sentence in estimated else word.id
        if timed and timed[-1][0] == target:
            continue  # a later word of a sentence read as one clip
        begin = 0.0 if not timed else starts[index][0] - media.audio_start
        if not timed or (begin - timed[-1][2] >= MIN_CLIP_S and media.duration - begin >= MIN_CLIP_S):
            timed.append((target, word.sentence, begin))
    if not timed and words:  # narration without caption words to place: the whole text is lit while it plays
        timed.append(("text", "text", 0.0))
    ends = [begin for _, _, begin in timed[1:]] + [media.duration]
    return [_Clip(target, sentence, begin, end) for (target, sentence, begin), end in zip(timed, ends)]


def clock(seconds: float) -> str:
    """Seconds as a SMIL full clock value, to the millisecond (0:01:02.345)."""
    millis = int(round(seconds * 1000))
    return f"{millis // 3_600_000}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


def _par(page: str, audio: str, clip: _Clip) -> str:
    return (f'<par id="p-{clip.target}"><text src="{_x(page)}#{clip.target}"/>'
            f'<audio src="{_x(audio)}" clipBegin="{clock(clip.begin)}" clipEnd="{clock(clip.end)}"/></par>')


def _smil(spread: _Spread, clips: list[_Clip]) -> str:
    """The page's Media Overlay: per sentence, a seq of one par per word (its text and its audio clip), or one
    par for the whole sentence where it is read as one clip."""
    page, audio = f"../text/{spread.name}.xhtml", f"../audio/{spread.name}.mp3"
    groups: list[list[_Clip]] = []
    for clip in clips:
        if groups and groups[-1][0].sentence == clip.sentence:
            groups[-1].append(clip)
        else:
            groups.append([clip])
    parts = []
    for group in groups:
        pars = "\n".join(_par(page, audio, clip) for clip in group)
        if group[0].target == group[0].sentence:
            parts.append(pars)
        else:
            parts.append(f'<seq id="q-{group[0].sentence}" epub:textref="{_x(page)}#{group[0].sentence}">\n'
                         f"{pars}\n</seq>")
    return _SMIL.format(body="\n".join(parts))


# ---------------------------------------------------------------- the other pages
def _cover_body(story: Story, first: _Spread) -> str:
    return (f'<section class="cover" epub:type="cover">\n<figure><img src="../images/{first.name}.jpg" '
            f'alt="{_x("Cover. " + _alt_text(story, first.story_scene))}"/></figure>\n'
            f"<h1>{_x(story.title)}</h1>\n</section>")


def _and_list(items: list[str]) -> str:
    """Items as a phrase: 'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _title_body(story: Story, narrated: bool) -> str:
    cast = [f"{c.name} the {c.kind}" for c in story.characters]
    cast_line = f'<p class="cast">With {_x(_and_list(cast))}.</p>\n' if cast else ""
    hint = ('<p class="subtitle">A read-aloud story. Turn on your reader\'s read-aloud (Media Overlays) to hear '
            "it, each word lit as it is read.</p>\n" if narrated else "")
    return f'<section class="titlepage" epub:type="titlepage">\n<h1>{_x(story.title)}</h1>\n{cast_line}{hint}</section>'



def _credits_body(job: ExportJob) -> str:
    items = "".join(f"<li>{_x(line)}</li>\n" for line in job.credits)
    return (f'<section class="credits" epub:type="backmatter">\n<h2>Credits</h2>\n<ul>\n{items}'
            f"<li>Made into this book by storymode {_x(__version__)}.</li>\n</ul>\n</section>")


def _xhtml(lang: str, title: str, body: str, body_type: str = "bodymatter", css: str = "../style/book.css") -> bytes:
    return _XHTML.format(lang=_x(lang), title=_x(title), css=css, body=body, body_type=body_type).encode("utf-8")


# ---------------------------------------------------------------- the package
@dataclass(frozen=True)
class _Item:
    """A file of the book: its manifest id, its path under EPUB/, its media type and bytes, its manifest
    properties and, for a page read aloud, the id of its Media Overlay."""

    id: str
    href: str
    media_type: str
    content: bytes
    properties: str = ""
    overlay: str = ""


@dataclass(frozen=True)
class _Book:
    """What the package and navigation documents list: the files in manifest order, the pages in reading order
    with their names in the contents, and each overlay's length in milliseconds."""

    items: list[_Item]
    pages: list[tuple[_Item, str]]
    overlay_ms: dict[str, int]


def _page(name: str, content: bytes, overlay: str = "") -> _Item:
    return _Item(name, f"text/{name}.xhtml", "application/xhtml+xml", content, overlay=overlay)


def _scene_items(job: ExportJob, lang: str, spread: _Spread, media: _Media) -> tuple[list[_Item], int]:
    """A scene's page, picture and, when it is narrated, its audio and overlay (the page first); and the overlay's
    length in ms (0: none)."""
    words = _words(spread.story_scene)
    title = f"{job.story.title} \u2013 page {spread.number}"
    content = _xhtml(lang, title, _scene_body(job.story, spread, words))
    picture = _Item(f"img-{spread.name}", f"images/{spread.name}.jpg", "image/jpeg", media.jpeg,
                    properties="cover-image" if spread.number == 1 else "")  # the first picture is the cover too
    clips = _clips(job, spread, words, media) if media.mp3 is not None else []
    if not clips or media.mp3 is None:
        return [_page(spread.name, content), picture], 0
    overlay = f"mo-{spread.name}"
    page = _page(spread.name, content, overlay)
    audio = _Item(f"audio-{spread.name}", f"audio/{spread.name}.mp3", "audio/mpeg", media.mp3)
    smil = _Item(overlay, f"smil/{spread.name}.smil", "application/smil+xml", _smil(spread, clips).encode("utf-8"))
    return [page, picture, audio, smil], int(round(clips[-1].end * 1000))


def _build(job: ExportJob, lang: str, spreads: list[_Spread], media: list[_Media]) -> _Book:
    """The whole book: its style, its pages in reading order with their media and overlays."""
    title = job.story.title
    narrated = any(m.mp3 is not None for m in media)
    cover = _page("cover", _xhtml(lang, title, _cover_body(job.story, spreads[0]), "cover"))
    title_page = _page("titlepage", _xhtml(lang, title, _title_body(job.story, narrated), "frontmatter"))
    items = [_Item("style", "style/book.css", "text/css", STYLE.encode("utf-8")), cover, title_page]
    pages = [(cover, "Cover"), (title_page, "Title page")]
    overlay_ms: dict[str, int] = {}
    for spread, spread_media in zip(spreads, media):
        scene_items, millis = _scene_items(job, lang, spread, spread_media)
        items += scene_items
        pages.append((scene_items[0], f"Page {spread.number}"))
        if scene_items[0].overlay:
            overlay_ms[scene_items[0].overlay] = millis
    credits_title = f"{title} \u2013 credits"
    credits = _page("credits", _xhtml(lang, credits_title, _credits_body(job), "backmatter"))
    return _Book([*items, credits], [*pages, (credits, "Credits")], overlay_ms)


def _meta(prop: str, value: str, refines: str = "") -> str:
    target = f' refines="#{_x(refines)}"' if refines else ""
    return f'<meta property="{prop}"{target}>{_x(value)}</meta>'


def _identity(job: ExportJob, lang: str, modified: datetime.datetime) -> list[str]:
    """Identifier, title, language, who made the book and when."""
    return [f'<dc:identifier id="book-id">{_x(book_identifier(job.story))}</dc:identifier>',
            f"<dc:title>{_x(job.story.title)}</dc:title>",
            f"<dc:language>{_x(lang)}</dc:language>",
            '<dc:creator id="creator">storymode</dc:creator>',
            '<meta refines="#creator" property="role" scheme="marc:relators">aut</meta>',
            f'<dc:contributor id="producer">storymode {_x(__version__)}</dc:contributor>',
            '<meta refines="#producer" property="role" scheme="marc:relators">bkp</meta>',
            _meta("dcterms:modified", modified.strftime("%Y-%m-%dT%H:%M:%SZ"))]


def _overlay_metas(overlay_ms: dict[str, int]) -> list[str]:
    """Each overlay's length, their total and the class that lights the word being read (none: not narrated)."""
    if not overlay_ms:
        return []
    return [*(_meta("media:duration", clock(ms / 1000), overlay) for overlay, ms in overlay_ms.items()),
            _meta("media:duration", clock(sum(overlay_ms.values()) / 1000)),
            _meta("media:active-class", ACTIVE_CLASS)]


def _accessibility(narrated: bool) -> list[str]:
    """The schema.org accessibility metadata."""
    modes = ["textual", "visual", *(["auditory"] if narrated else [])]
    sufficient = ["textual", "textual,visual", *(["auditory,visual"] if narrated else [])]
    features = ["alternativeText", *(["synchronizedAudioText"] if narrated else []), "readingOrder",
                "structuralNavigation", "tableOfContents", "displayTransformability"]
    summary = ("A picture book: each page has a picture, described in its alternative text, and the words of the "
               "story. " + ("Every page with words has a recorded narration synchronised with the text (Media "
                            "Overlays), so a reading system can read it aloud and highlight each word as it is "
                            "spoken; the text can also be read alone." if narrated else "It has no narration."))
    schema = [*(("accessMode", m) for m in modes), *(("accessModeSufficient", m) for m in sufficient),
              *(("accessibilityFeature", f) for f in features), ("accessibilityHazard", "none"),
              ("accessibilitySummary", summary)]
    return [_meta(f"schema:{name}", value) for name, value in schema]


def _manifest_item(item: _Item) -> str:
    # ids, paths and types are made here (scene-01 ...), never from story text: nothing to escape
    properties = f' properties="{item.properties}"' if item.properties else ""
    overlay = f' media-overlay="{item.overlay}"' if item.overlay else ""
    return f'<item id="{item.id}" href="{item.href}" media-type="{item.media_type}"{properties}{overlay}/>'


def _package(job: ExportJob, lang: str, book: _Book, modified: datetime.datetime) -> bytes:
    """The package document (content.opf): metadata, manifest (the nav document last) and spine."""
    cover = next(item.id for item in book.items if item.properties == "cover-image")
    metadata = [*_identity(job, lang, modified),
                f'<meta name="cover" content="{cover}"/>',  # where EPUB 2 reading systems look for the cover
                *_overlay_metas(book.overlay_ms), *_accessibility(bool(book.overlay_ms))]
    nav = _Item("nav", "nav.xhtml", "application/xhtml+xml", b"", properties="nav")
    return _OPF.format(lang=_x(lang), metadata="\n".join(metadata),
                       manifest="\n".join(_manifest_item(item) for item in [*book.items, nav]),
                       spine="\n".join(f'<itemref idref="{page.id}"/>' for page, _ in book.pages)).encode("utf-8")


def _nav(lang: str, book: _Book) -> bytes:
    """The navigation document: the contents (every page) and the landmarks (the cover, the story's start)."""
    toc = "\n".join(f'<li><a href="{page.href}">{_x(label)}</a></li>' for page, label in book.pages)
    cover, first_scene = book.pages[0][0], book.pages[2][0]
    landmarks = (f'<li><a epub:type="cover" href="{cover.href}">Cover</a></li>\n'
                 f'<li><a epub:type="bodymatter" href="{first_scene.href}">Start of the story</a></li>')
    return _xhtml(lang, "Contents", _NAV_BODY.format(toc=toc, landmarks=landmarks), "frontmatter",
                  css="style/book.css")


def _zip_entry(name: str, compression: int) -> zipfile.ZipInfo:
    """A zip entry with a fixed time and mode, so the same files always make the same bytes."""
    entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    entry.compress_type = compression
    entry.create_system = 3  # Unix, whatever this machine is: the mode below is then read as a file mode
    entry.external_attr = (stat.S_IFREG | 0o644) << 16
    return entry


def _write_zip(dest: Path, files: list[tuple[str, bytes]]) -> None:
    """The EPUB container at dest: the mimetype first, stored and with no extra field, then the files compressed
    (MP3 narration shrinks by a tenth or more; the JPEGs hardly at all, at little cost)."""
    with zipfile.ZipFile(dest, "w") as archive:
        archive.writestr(_zip_entry("mimetype", zipfile.ZIP_STORED), b"application/epub+zip")
        for name, content in files:
            archive.writestr(_zip_entry(name, zipfile.ZIP_DEFLATED), content)


def write_epub(job: ExportJob, dest: Path) -> None:
    """Write the story as a read-aloud EPUB 3 book (Media Overlays) at dest."""
    lang = _language(job.story)  # a bad language tag is refused before any work
    spreads = _spreads(job)
    book = _build(job, lang, spreads, _all_media(job, spreads))
    modified = datetime.datetime.now(datetime.timezone.utc)
    files = [("META-INF/container.xml", _CONTAINER.encode("utf-8")),
             ("EPUB/content.opf", _package(job, lang, book, modified)),
             ("EPUB/nav.xhtml", _nav(lang, book)),
             *((f"EPUB/{item.href}", item.content) for item in book.items)]
    _write_zip(dest, files)
