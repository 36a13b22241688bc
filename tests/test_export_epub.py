"""The read-aloud EPUB: valid by epubcheck, its Media Overlays read back against its pages and its audio, its pages
opened in a real Chromium, and hostile story text kept as text."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from storymode.errors import UsageError
from storymode.outputs.base import ExportJob
from storymode.outputs.epub_book import ACTIVE_CLASS, MAX_PICTURE_SIDE, ZIP_TIME, book_identifier, write_epub
from storymode.outputs.scene_audio import audio_span, scene_cues_words, spoken_words
from storymode.story import Story
from storymode.timeline import Timeline

from .conftest import decode_audio, need, open_page, probe

NS = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/",
      "x": "http://www.w3.org/1999/xhtml", "smil": "http://www.w3.org/ns/SMIL",
      "epub": "http://www.idpf.org/2007/ops"}
HOSTILE_TITLE = "<script>alert(1)</script> & ]]> \"quoted\" 'Fox' {pages}"
HOSTILE_NAME = "</span><img src=x onerror=alert(2)>\x0b"  # a vertical tab: a character XML cannot hold
HOSTILE_LINE = "Look: <script>alert(3)</script> and ]]> & <![CDATA[x]]> said the fox."


def _unpack(book: Path, folder: Path) -> Path:
    with zipfile.ZipFile(book) as archive:
        assert archive.namelist()[0] == "mimetype" and archive.read("mimetype") == b"application/epub+zip"
        assert archive.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        archive.extractall(folder)
    return folder / "EPUB"


@pytest.fixture(scope="module")
def book(export_job: ExportJob, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fox story's book, written into its story folder's exports/, and unpacked."""
    exports = export_job.story_dir / "exports"
    exports.mkdir(exist_ok=True)
    path = exports / "test-export-epub.epub"
    write_epub(export_job, path)
    return {"path": path, "root": _unpack(path, tmp_path_factory.mktemp("epub"))}


def _hostile_job(job: ExportJob) -> ExportJob:
    """The same story and timeline with hostile text in its title, a character's name and a line."""
    data = job.story.model_dump()
    data["title"] = HOSTILE_TITLE
    speakers = {line["speaker"] for scene in data["scenes"] for line in scene["lines"]}
    for character in data["characters"]:
        character["name"] = HOSTILE_NAME
    data["scenes"][0]["lines"][0]["text"] = HOSTILE_LINE
    if not speakers - {"narrator"} and data["characters"]:  # make sure a hostile name is shown as a speaker
        data["scenes"][-1]["lines"].append({"speaker": data["characters"][0]["id"], "text": "Hello."})
    return ExportJob(story=Story.model_validate(data), timeline=job.timeline, story_dir=job.story_dir)


@pytest.fixture(scope="module")
def hostile(export_job: ExportJob, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The book of the story with hostile text, unpacked."""
    tmp = tmp_path_factory.mktemp("hostile-epub")
    job = _hostile_job(export_job)
    write_epub(job, tmp / "hostile.epub")
    return {"path": tmp / "hostile.epub", "root": _unpack(tmp / "hostile.epub", tmp / "unpacked"), "job": job}


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _opf(root: Path) -> ET.Element:
    return _xml(root / "content.opf")


def _metas(opf: ET.Element, prop: str) -> list[ET.Element]:
    return [m for m in opf.iterfind("opf:metadata/opf:meta", NS) if m.get("property") == prop]


def _manifest(opf: ET.Element) -> dict[str, ET.Element]:
    return {item.get("id"): item for item in opf.iterfind("opf:manifest/opf:item", NS)}


def _spine_pages(root: Path) -> list[Path]:
    opf = _opf(root)
    items = _manifest(opf)
    return [root / items[ref.get("idref")].get("href") for ref in opf.iterfind("opf:spine/opf:itemref", NS)]


def _seconds(clock: str) -> float:
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _overlays(root: Path) -> list[tuple[Path, Path, list[tuple[str, float, float]]]]:
    """Each overlay: its page, its audio file and its pars as (text fragment, clipBegin, clipEnd)."""
    opf = _opf(root)
    items = _manifest(opf)
    out = []
    for item in items.values():
        if not item.get("media-overlay"):
            continue
        smil = root / items[item.get("media-overlay")].get("href")
        pars, audio = [], set()
        for par in _xml(smil).iter(f"{{{NS['smil']}}}par"):
            text, clip = par.find("smil:text", NS), par.find("smil:audio", NS)
            page, fragment = text.get("src").split("#")
            assert (smil.parent / page).resolve() == (root / item.get("href")).resolve()
            audio.add((smil.parent / clip.get("src")).resolve())
            pars.append((fragment, _seconds(clip.get("clipBegin")), _seconds(clip.get("clipEnd"))))
        assert len(audio) == 1, "one audio file per page"
        out.append((root / item.get("href"), audio.pop(), pars))
    return out


def _epubcheck(book: Path, tmp: Path) -> list[dict]:
    """epubcheck's messages about book (its JSON report)."""
    found = shutil.which("epubcheck")
    need(found, "epubcheck is not installed: apt-get install epubcheck")
    program = Path(str(found)).resolve()
    command = [str(program)]
    if program.suffix == ".jar":  # Debian's /usr/bin/epubcheck is the jar itself (run through binfmt when set up)
        java = shutil.which("java")
        need(java, "java is not installed (epubcheck needs it): apt-get install default-jre-headless")
        command = [str(java), "-jar", str(program)]
    report = tmp / f"{book.stem}-epubcheck.json"
    # the quick JIT and a simple collector halve epubcheck's time on a short run
    env = {**os.environ, "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    proc = subprocess.run([*command, str(book), "--json", str(report)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert report.is_file(), proc.stdout + proc.stderr
    messages = json.loads(report.read_text(encoding="utf-8"))["messages"]
    assert proc.returncode == 0 or messages, proc.stdout + proc.stderr
    return messages


@pytest.mark.slow
def test_the_book_passes_epubcheck_without_errors_or_warnings(book: dict, tmp_path: Path) -> None:
    messages = _epubcheck(book["path"], tmp_path)
    assert messages == [], json.dumps(messages, indent=1)[:3000]


def test_the_package_names_the_story_and_its_accessibility(book: dict, export_job: ExportJob) -> None:
    opf = _opf(book["root"])
    story = export_job.story
    assert opf.findtext("opf:metadata/dc:title", namespaces=NS) == story.title
    assert opf.findtext("opf:metadata/dc:language", namespaces=NS) == story.language
    identifier = opf.findtext(f"opf:metadata/dc:identifier[@id='{opf.get('unique-identifier')}']", namespaces=NS)
    assert identifier == book_identifier(story) == book_identifier(Story.model_validate(story.model_dump()))
    assert identifier != book_identifier(story.model_copy(update={"title": story.title + " again"}))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", _metas(opf, "dcterms:modified")[0].text or "")
    assert opf.findtext("opf:metadata/dc:creator", namespaces=NS)
    features = {m.text for m in _metas(opf, "schema:accessibilityFeature")}
    assert {"synchronizedAudioText", "alternativeText", "tableOfContents"} <= features
    assert {m.text for m in _metas(opf, "schema:accessMode")} >= {"textual", "visual", "auditory"}
    assert _metas(opf, "schema:accessModeSufficient") and _metas(opf, "schema:accessibilityHazard")
    assert len(_metas(opf, "schema:accessibilitySummary")[0].text or "") > 40

    # the overlays' lengths, each and in total; the active class is styled
    durations = {m.get("refines"): _seconds(m.text or "") for m in _metas(opf, "media:duration")}
    overlays = [i.get("media-overlay") for i in _manifest(opf).values() if i.get("media-overlay")]
    assert len(overlays) == len(export_job.timeline.scenes)
    assert set(durations) == {f"#{o}" for o in overlays} | {None}
    assert durations[None] == pytest.approx(sum(v for k, v in durations.items() if k), abs=0.002)
    active = _metas(opf, "media:active-class")[0].text
    assert active == ACTIVE_CLASS
    css = "".join(p.read_text(encoding="utf-8") for p in book["root"].rglob("*.css"))
    assert re.search(rf"\.{re.escape(active)}\s*\{{[^}}]*background", css)


def test_the_container_holds_the_package_and_exactly_its_manifest(book: dict) -> None:
    data = book["path"].read_bytes()
    # a reading system sniffs the type at fixed offsets: the first local header is the mimetype, stored, no extra
    signature, method, name_length, extra_length = (data[:4], *struct.unpack("<H", data[8:10]),
                                                    *struct.unpack("<HH", data[26:30]))
    assert (signature, method, name_length, extra_length) == (b"PK\x03\x04", 0, 8, 0)
    assert data[30:58] == b"mimetypeapplication/epub+zip"
    with zipfile.ZipFile(book["path"]) as archive:
        names = archive.namelist()
        assert archive.testzip() is None and len(names) == len(set(names))
        assert all(info.date_time == ZIP_TIME for info in archive.infolist())
        container = ET.fromstring(archive.read("META-INF/container.xml"))
    rootfiles = container.findall(".//{urn:oasis:names:tc:opendocument:xmlns:container}rootfile")
    assert [(r.get("full-path"), r.get("media-type")) for r in rootfiles] == [
        ("EPUB/content.opf", "application/oebps-package+xml")]
    opf = _opf(book["root"])
    assert opf.get("version") == "3.0"
    items = _manifest(opf)
    hrefs = {f"EPUB/{item.get('href')}" for item in items.values()}
    assert hrefs == set(names) - {"mimetype", "META-INF/container.xml", "EPUB/content.opf"}
    types = {".xhtml": "application/xhtml+xml", ".jpg": "image/jpeg", ".mp3": "audio/mpeg", ".css": "text/css",
             ".smil": "application/smil+xml"}
    assert all(item.get("media-type") == types[Path(item.get("href")).suffix] for item in items.values())
    assert [i for i in items.values() if "nav" in (i.get("properties") or "").split()] == [items["nav"]]
    assert all(items[i.get("media-overlay")].get("media-type") == "application/smil+xml"
               for i in items.values() if i.get("media-overlay"))
    spine = [ref.get("idref") for ref in opf.iterfind("opf:spine/opf:itemref", NS)]
    assert len(spine) == len(set(spine)) and all(items[i].get("media-type") == "application/xhtml+xml" for i in spine)
    cover = [m.get("content") for m in opf.iterfind("opf:metadata/opf:meta", NS) if m.get("name") == "cover"]
    assert cover and items[cover[0]].get("properties") == "cover-image"


def test_the_same_story_makes_the_same_bytes_but_for_the_time_of_writing(book: dict, export_job: ExportJob,
                                                                         tmp_path: Path) -> None:
    write_epub(export_job, tmp_path / "again.epub")
    with zipfile.ZipFile(book["path"]) as first, zipfile.ZipFile(tmp_path / "again.epub") as second:
        assert first.namelist() == second.namelist()
        differ = [name for name in first.namelist() if first.read(name) != second.read(name)]
        assert set(differ) <= {"EPUB/content.opf"}
        modified = re.compile(rb'<meta property="dcterms:modified">[^<]*</meta>')
        assert (modified.sub(b"", first.read("EPUB/content.opf"))
                == modified.sub(b"", second.read("EPUB/content.opf")))


def test_the_book_is_written_without_any_epub_library(export_job: ExportJob, book: dict, tmp_path: Path) -> None:
    script = (  # in a fresh interpreter where importing EbookLib fails
        "import sys; sys.modules['ebooklib'] = None\n"
        "from pathlib import Path\n"
        "from storymode.outputs.base import ExportJob\n"
        "from storymode.outputs.epub_book import write_epub\n"
        "from storymode.story import load_story\n"
        "from storymode.timeline import Timeline\n"
        "folder, dest = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "timeline = Timeline.model_validate_json((folder / 'build' / 'timeline.json').read_text())\n"
        "write_epub(ExportJob(load_story(folder / 'story.json'), timeline, folder), dest)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(export_job.story_dir), str(tmp_path / "plain.epub")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / "plain.epub") as plain, zipfile.ZipFile(book["path"]) as usual:
        assert plain.namelist() == usual.namelist()
        assert plain.read("EPUB/nav.xhtml") == usual.read("EPUB/nav.xhtml")


def test_pages_pictures_and_navigation(book: dict, export_job: ExportJob) -> None:
    from PIL import Image

    root, story = book["root"], export_job.story
    pages = _spine_pages(root)
    assert len(pages) == len(story.scenes) + 3  # cover, title page, one per scene, credits
    nav = next(root / i.get("href") for i in _manifest(_opf(root)).values() if "nav" in (i.get("properties") or ""))
    toc = _xml(nav).find(".//x:nav[@epub:type='toc']", NS)
    assert [(nav.parent / a.get("href")).resolve() for a in toc.iterfind(".//x:a", NS)] == [p.resolve() for p in pages]
    cover = next(i for i in _manifest(_opf(root)).values() if i.get("properties") == "cover-image")
    for n, (page, scene) in enumerate(zip(pages[2:], story.scenes), start=1):
        html_root = _xml(page)
        text = " ".join("".join(html_root.find(".//x:body", NS).itertext()).split())
        for line in scene.lines:
            assert " ".join(line.text.split()) in text
            if line.speaker != "narrator":
                assert f"{story.character(line.speaker).name} \u201c{' '.join(line.text.split())}\u201d" in text
        images = html_root.findall(".//x:img", NS)
        assert len(images) == 1 and images[0].get("alt", "").startswith("Picture:")
        picture = Image.open(io.BytesIO((page.parent / images[0].get("src")).read_bytes()))
        picture.load()
        source = Image.open(export_job.timeline.scenes[n - 1].image)
        assert picture.format == "JPEG" and max(picture.size) == min(max(source.size), MAX_PICTURE_SIDE)
        if n == 1:
            assert (page.parent / images[0].get("src")).resolve() == (root / cover.get("href")).resolve()
    credits = " ".join(_xml(pages[-1]).find(".//x:body", NS).itertext())
    assert all(line in credits for line in export_job.credits)


def test_overlays_play_the_whole_audio_and_point_at_words_on_their_pages(book: dict,
                                                                       export_job: ExportJob) -> None:
    opf = _opf(book["root"])
    durations = {m.get("refines"): _seconds(m.text or "") for m in _metas(opf, "media:duration")}
    overlays = _overlays(book["root"])
    assert len(overlays) == len(export_job.timeline.scenes)
    for (page, audio, pars), scene in zip(sorted(overlays), export_job.timeline.scenes):
        ids = [el.get("id") for el in _xml(page).iter() if el.get("id")]
        words = [f for f, _, _ in pars]
        assert all(f in ids for f in words), "every text ref names an element of its page"
        assert words == sorted(words, key=ids.index), "the overlay reads the page in order"
        # the clips follow one another without a gap from the file's start to its end
        assert pars[0][1] == 0.0
        assert all(a[2] == pytest.approx(b[1], abs=1e-9) and a[1] < a[2] for a, b in zip(pars, pars[1:]))
        length = probe(audio)["duration"]
        assert probe(audio)["audio"]["codec"] == "mp3"
        assert pars[-1][2] == pytest.approx(length, abs=0.08)
        smil_id = next(i.get("media-overlay") for i in _manifest(opf).values()
                       if i.get("href") == page.relative_to(book["root"]).as_posix())
        assert durations[f"#{smil_id}"] == pytest.approx(pars[-1][2], abs=0.002)
        # clip times are seconds in the page's file: the second word starts where the timeline says, less the
        # file's start; and the voice is heard after the first word's start, not in the silence before it
        span = audio_span(export_job.timeline, scene)
        spoken = spoken_words(scene_cues_words(export_job.timeline, scene))
        assert pars[1][0] == "w2" and pars[1][1] == pytest.approx(spoken[1][1] - span.start, abs=0.002)
        samples, rate = decode_audio(audio), 16000
        lead = samples[: int(rate * (spoken[0][1] - span.start) * 0.8)]
        assert len(lead) and abs(lead).max() < 0.02 < abs(samples).max()


@pytest.mark.slow
def test_pages_open_in_chromium_with_pictures_and_text(book: dict, hostile: dict, export_job: ExportJob,
                                                      browser) -> None:  # type: ignore[no-untyped-def]
    pages = _spine_pages(book["root"])
    for page_path in [*pages, book["root"] / "nav.xhtml"]:
        page, events = open_page(browser, page_path.as_uri())
        try:
            assert page.evaluate("document.querySelector('parsererror') === null"), page_path.name
            sizes = page.evaluate("Promise.all(Array.from(document.images).map(i => i.decode()"
                                  ".then(() => i.naturalWidth)))")
            assert all(width > 0 for width in sizes), page_path.name
            assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Georgia")
            text = " ".join(page.inner_text("body").split())
            assert text, page_path.name
            if page_path in pages[:2]:  # the cover and the title page
                assert export_job.story.title in text
            assert events == {"errors": [], "dialogs": []}, events
        finally:
            page.close()
    scene_text = " ".join(export_job.story.scenes[0].lines[0].text.split())
    page, events = open_page(browser, pages[2].as_uri())
    assert scene_text in " ".join(page.inner_text("body").split())
    page.close()

    # the hostile book: its title and a line shown as text, nothing run
    hostile_pages = _spine_pages(hostile["root"])
    for page_path, expected in ((hostile_pages[0], HOSTILE_TITLE), (hostile_pages[2], HOSTILE_LINE)):
        page, events = open_page(browser, page_path.as_uri())
        try:
            assert expected in " ".join(page.inner_text("body").split())
            assert page.evaluate("document.querySelectorAll('script').length") == 0
            assert events == {"errors": [], "dialogs": []}, events
        finally:
            page.close()


@pytest.mark.slow
def test_hostile_text_stays_text_and_the_book_stays_valid(hostile: dict, tmp_path: Path) -> None:
    root = hostile["root"]
    opf = _opf(root)
    assert opf.findtext("opf:metadata/dc:title", namespaces=NS) == HOSTILE_TITLE
    pages = _spine_pages(root)
    for page in [*pages, root / "nav.xhtml"]:
        parsed = _xml(page)  # well-formed XML, or this raises
        assert parsed.find(".//x:script", NS) is None and parsed.find(".//x:img[@onerror]", NS) is None
        assert parsed.findtext("x:head/x:title", namespaces=NS) is not None
    assert HOSTILE_TITLE in [el.text for el in _xml(pages[0]).iter(f"{{{NS['x']}}}h1")]
    assert HOSTILE_TITLE in _xml(pages[0]).findtext("x:head/x:title", namespaces=NS)
    shown = " ".join("".join(_xml(pages[2]).find(".//x:body", NS).itertext()).split())
    assert HOSTILE_LINE in shown
    speech = [el for p in pages[2:-1] for el in _xml(p).iter(f"{{{NS['x']}}}span") if el.get("class") == "who"]
    assert speech and all(el.text == HOSTILE_NAME.replace("\x0b", "") for el in speech)
    for page, _, pars in _overlays(root):  # the timeline's words still find their places
        ids = {el.get("id") for el in _xml(page).iter()}
        assert pars and all(f in ids for f, _, _ in pars)
    messages = _epubcheck(hostile["path"], tmp_path)
    assert messages == [], json.dumps(messages, indent=1)[:3000]


def _with_estimated_word_times(timeline: Timeline) -> Timeline:
    """The timeline as a narrator that times only sentences leaves it: each caption's words back to back, each as
    long as its share of the letters (how the timeline spreads a sentence's time over its words)."""
    cues = []
    for cue in timeline.cues:
        letters = sum(len(w.text) for w in cue.words)
        first, last = cue.words[0].start, cue.words[-1].end
        t, words = first, []
        for w in cue.words:
            end = t + (last - first) * len(w.text) / letters
            words.append(w.model_copy(update={"start": t, "end": end}))
            t = end
        cues.append(cue.model_copy(update={"words": words}))
    return timeline.model_copy(update={"cues": cues})


def test_sentences_are_lit_whole_where_word_times_are_only_estimated(export_job: ExportJob, tmp_path: Path) -> None:
    job = ExportJob(story=export_job.story, timeline=_with_estimated_word_times(export_job.timeline),
                    story_dir=export_job.story_dir)
    write_epub(job, tmp_path / "estimated.epub")
    overlays = _overlays(_unpack(tmp_path / "estimated.epub", tmp_path / "unpacked"))
    assert len(overlays) == len(export_job.timeline.scenes)
    for page, audio, pars in overlays:
        sentences = [el.get("id") for el in _xml(page).iter() if el.get("class") == "sentence"]
        assert [f for f, _, _ in pars] == sentences[: len(pars)] and len(pars) >= len(sentences) - 1
        assert pars[0][1] == 0.0 and all(a[2] == pytest.approx(b[1], abs=1e-9) for a, b in zip(pars, pars[1:]))
        assert pars[-1][2] == pytest.approx(probe(audio)["duration"], abs=0.08)


def test_a_story_without_narration_makes_a_book_without_overlays(export_job: ExportJob, tmp_path: Path) -> None:
    silent = export_job.timeline.model_copy(update={"audio": [], "cues": []})
    write_epub(ExportJob(story=export_job.story, timeline=silent, story_dir=export_job.story_dir),
               tmp_path / "silent.epub")
    root = _unpack(tmp_path / "silent.epub", tmp_path / "unpacked")
    opf = _opf(root)
    assert not [i for i in _manifest(opf).values() if i.get("media-overlay") or i.get("media-type") == "audio/mpeg"]
    assert not _metas(opf, "media:duration") and not _metas(opf, "media:active-class")
    assert "synchronizedAudioText" not in {m.text for m in _metas(opf, "schema:accessibilityFeature")}
    assert len(_spine_pages(root)) == len(export_job.story.scenes) + 3


def test_a_language_that_is_not_a_tag_is_refused(export_job: ExportJob, tmp_path: Path) -> None:
    story = export_job.story.model_copy(update={"language": "en_US!"})
    job = ExportJob(story=story, timeline=export_job.timeline, story_dir=export_job.story_dir)
    with pytest.raises(UsageError, match="language tag"):
        write_epub(job, tmp_path / "bad.epub")
    assert not (tmp_path / "bad.epub").exists()
