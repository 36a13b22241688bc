"""The export formats: what each is called, the file it writes under the story folder's exports/, the function
that writes it, and what it needs installed. Writers are imported only when their format is asked for."""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .base import EXPORT_NAMES, ExportJob

EXPORTS_FOLDER = "exports"


@dataclass(frozen=True)
class ExportFormat:
    """One export: its name, its file under exports/, what it is, its writer ("module:function" in
    storymode.outputs), the modules it needs and how to get them, and a version that changes its cache key."""

    name: str
    filename: str
    label: str
    writer: str
    needs: tuple[str, ...] = ()
    install: str = ""
    version: str = "1"

    def file_name(self, job: ExportJob) -> str:
        """The file's name for this job (the PDF's names its page size)."""
        return self.filename.format(page_size=job.page_size)

    def missing(self) -> str | None:
        """What to install for this format, or None when everything it needs is importable."""
        if all(importlib.util.find_spec(module) is not None for module in self.needs):
            return None
        return self.install or f"pip install {' '.join(self.needs)}"

    def write(self, job: ExportJob, dest: Path) -> None:
        """Write the format for job to dest."""
        module, function = self.writer.split(":")
        writer: Callable[[ExportJob, Path], None] = getattr(importlib.import_module(f"storymode.outputs.{module}"),
                                                            function)
        writer(job, dest)


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("html", "storybook.html", "the storybook web page (reads aloud, word by word)",
                 "storybook_page:write_page"),
    ExportFormat("epub", "book.epub", "a read-aloud EPUB 3 book (Media Overlays)", "epub_book:write_epub"),
    ExportFormat("pdf", "book-{page_size}.pdf", "a printable PDF picture book", "pdf_book:write_pdf",
                 needs=("weasyprint",), install="pip install weasyprint (and Pango: apt-get install libpango-1.0-0)"),
    ExportFormat("otio", "timeline.otio", "an OpenTimelineIO editor timeline", "editor_timeline:write_otio",
                 needs=("opentimelineio",), install="pip install opentimelineio"),
    ExportFormat("fcpxml", "timeline.fcpxml", "a Final Cut Pro / DaVinci Resolve timeline (FCPXML)",
                 "editor_timeline:write_fcpxml", needs=("opentimelineio", "otio_fcpx_xml_adapter"),
                 install="pip install opentimelineio otio-fcpx-xml-adapter"),
    ExportFormat("kdenlive", "timeline.kdenlive", "a Kdenlive project", "editor_timeline:write_kdenlive",
                 needs=("opentimelineio", "otio_kdenlive_adapter"),
                 install="pip install opentimelineio otio-kdenlive-adapter"),
)}
assert tuple(FORMATS) == EXPORT_NAMES


def parse_formats(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Format names from "epub,pdf", "all" or a list of them, in the registry's order, each once; an unknown
    name is refused with the valid ones."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    names = [item.strip().lower() for item in items if item.strip()]
    unknown = [n for n in names if n != "all" and n not in FORMATS]
    if unknown:
        raise UsageError(f"unknown export format {unknown[0]!r}; the formats are: {', '.join(FORMATS)} (or all)")
    if "all" in names:
        return tuple(FORMATS)
    return tuple(n for n in FORMATS if n in names)


def check_installed(names: Iterable[str]) -> None:
    """Refuse, before any work, a format whose libraries are not installed, saying what to install."""
    for name in names:
        install = FORMATS[name].missing()
        if install:
            raise UsageError(f"the {name} export needs libraries that are not installed: {install}")


def describe() -> str:
    """One line per format: its name, its file and what it is (for --help and errors)."""
    return "\n".join(f"  {f.name:<9} exports/{f.filename:<18} {f.label}" for f in FORMATS.values())
