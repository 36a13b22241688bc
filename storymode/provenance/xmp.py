"""The IPTC "made by AI" fields as XMP in a PNG: Iptc4xmpExt:DigitalSourceType, xmp:CreatorTool, dc:description.

The packet goes in an iTXt chunk keyed "XML:com.adobe.xmp" right after IHDR. The chunk is spliced into the file as
it is, so every other chunk (colour profile, text, pixels) stays byte for byte; an earlier XMP packet is replaced.
Add it before signing: signing hashes the file, and a change after it reads as "changed".
"""
from __future__ import annotations

import os
import re
import struct
import tempfile
import zlib
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ..errors import UsageError
from .manifest import SOURCE_TYPES, source_key

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
C2PA_CHUNK = b"caBX"
NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "x": "adobe:ns:meta/",
      "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "xmp": "http://ns.adobe.com/xap/1.0/",
      "dc": "http://purl.org/dc/elements/1.1/"}
# characters XML 1.0 cannot carry at all (a model's output may hold them)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="{rdf}">
  <rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{Iptc4xmpExt}" xmlns:xmp="{xmp}" xmlns:dc="{dc}">
   <Iptc4xmpExt:DigitalSourceType>{source}</Iptc4xmpExt:DigitalSourceType>
   <xmp:CreatorTool>{tool}</xmp:CreatorTool>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def add_ai_xmp(png: Path, *, source_type: str, tool: str, description: str) -> None:
    """Write the IPTC/XMP AI fields into png (atomically); source_type is a SOURCE_TYPES key (or its URI)."""
    png = Path(png)
    uri = SOURCE_TYPES.get(source_type, source_type)
    if uri not in SOURCE_TYPES.values():
        raise ValueError(f"unknown source type {source_type!r}: one of {', '.join(SOURCE_TYPES)}")
    chunks = _chunks(png)
    if any(kind == C2PA_CHUNK for kind, _ in chunks):
        raise UsageError(f"{png.name} already carries Content Credentials: add the XMP fields before signing")
    packet = PACKET.format(source=escape(uri), tool=_xml_text(tool), description=_xml_text(description), **NS)
    xmp = XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet.encode("utf-8")  # uncompressed, no language
    kept = [(kind, data) for kind, data in chunks if not _is_xmp(kind, data)]
    _write_atomic(png, _encode([kept[0], (b"iTXt", xmp), *kept[1:]]))


def read_ai_xmp(png: Path) -> dict:
    """The AI fields of png's XMP: digital_source_type (URI), source_type (key), creator_tool, description."""
    packet = next((_itxt_text(data) for kind, data in _chunks(Path(png)) if _is_xmp(kind, data)), None)
    if packet is None:
        return {}
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:  # XMP never needs them; entity expansion is an attack
        raise UsageError(f"{Path(png).name} holds an XMP packet with a DOCTYPE, which XMP does not allow")
    try:
        root = ElementTree.fromstring(packet.encode("utf-8"))
    except ElementTree.ParseError:
        return {}
    uri = _find_text(root, "Iptc4xmpExt:DigitalSourceType")
    return {"digital_source_type": uri, "source_type": source_key(uri),
            "creator_tool": _find_text(root, "xmp:CreatorTool"),
            "description": _find_text(root, "dc:description/rdf:Alt/rdf:li")}


def _find_text(root: ElementTree.Element, path: str) -> str | None:
    found = root.find(f".//rdf:Description/{path}", NS)
    return found.text if found is not None and found.text is not None else None


def _xml_text(text: str) -> str:
    return escape(NOT_XML.sub("", text), {'"': "&quot;"})


def _is_xmp(kind: bytes, data: bytes) -> bool:
    return kind == b"iTXt" and data.startswith(XMP_KEYWORD + b"\x00")


def _itxt_text(data: bytes) -> str:
    """The text of an iTXt chunk: keyword, NUL, compression flag and method, language NUL, keyword NUL, text."""
    rest = data[len(XMP_KEYWORD) + 1:]
    compressed, rest = rest[0], rest[2:]
    rest = rest.split(b"\x00", 2)[-1]  # past the language tag and the translated keyword
    if compressed:
        rest = zlib.decompress(rest)
    return rest.decode("utf-8", errors="replace")


def _chunks(png: Path) -> list[tuple[bytes, bytes]]:
    """The PNG's chunks as (type, data); UsageError when it is not a readable PNG."""
    try:
        raw = png.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{png} does not exist") from None
    if not raw.startswith(PNG_SIGNATURE):
        raise UsageError(f"{png.name} is not a PNG file")
    chunks, at = [], len(PNG_SIGNATURE)
    while at + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[at:at + 8])
        if at + 12 + length > len(raw):
            raise UsageError(f"{png.name} is a damaged PNG (a chunk runs past the end of the file)")
        chunks.append((kind, raw[at + 8:at + 8 + length]))
        at += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR":
        raise UsageError(f"{png.name} is a damaged PNG (it does not start with IHDR)")
    return chunks


def _encode(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [PNG_SIGNATURE]
    for kind, data in chunks:
        parts.append(struct.pack(">I4s", len(data), kind) + data + struct.pack(">I", zlib.crc32(kind + data)))
    return b"".join(parts)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data through a temporary file beside it, keeping its permission bits."""
    mode = path.stat().st_mode & 0o777
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
