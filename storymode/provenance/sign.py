"""Embed a signed C2PA manifest in a PNG, JPEG or MP4, offline and atomically.

The media streams from the source file to a temporary file beside the destination (c2pa reads and writes file
objects, so a large video never sits in memory) and is renamed into place. No timestamp authority is asked (there
is no network); the signature then carries the signing time the signer claims, which verifiers report as such.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BackendError, UsageError

if TYPE_CHECKING:
    from .chain import SigningChain

MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4"}


def c2pa_settings(anchors_pem: bytes | None = None) -> dict:
    """c2pa settings for storymode: no network at all, no thumbnail, and anchors_pem as trusted roots when given."""
    settings: dict = {
        "version": 1,
        "core": {
            "allowed_network_hosts": [],  # an empty allow-list blocks every request c2pa could make
            # stream, don't buffer: past 8 MB the copy being signed goes to a temporary file, and a video's media
            # is hashed in 1 MB pieces (a Merkle tree); otherwise a 50 MB MP4 takes 100 MB of memory to sign
            "backing_store_memory_threshold_in_mb": 8,
            "merkle_tree_chunk_size_in_kb": 1024,
        },
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        # the picture is its own preview; a thumbnail would add ~0.2 MB and ~45 ms to each PNG for nothing
        "builder": {"thumbnail": {"enabled": False}},
    }
    if anchors_pem:
        settings["trust"] = {"user_anchors": anchors_pem.decode("ascii")}
    return settings


def mime_type(path: Path) -> str:
    """The MIME type storymode signs a file as, from its suffix; UsageError for any other kind of file."""
    mime = MIME_TYPES.get(Path(path).suffix.lower())
    if mime is None:
        raise UsageError(f"cannot sign {Path(path).name}: Content Credentials are added to .png, .jpg, .jpeg "
                         "and .mp4 files")
    return mime


def sign_file(path: Path, manifest: dict, chain: SigningChain, dest: Path | None = None,
              mime: str | None = None) -> None:
    """Sign path with manifest and chain, writing dest (None: path itself) atomically. mime names the kind of file
    when the names do not (a temporary name); otherwise it comes from the suffix."""
    import c2pa

    path = Path(path)
    target = Path(dest) if dest is not None else path
    if mime is None:
        mime = mime_type(path)
        if mime_type(target) != mime:
            raise UsageError(f"cannot sign {path.name} into {target.name}: keep the same kind of file")
    elif mime not in MIME_TYPES.values():
        raise UsageError(f"cannot sign {path.name} as {mime}: Content Credentials are added to PNG, JPEG and MP4")
    if not path.is_file():
        raise UsageError(f"cannot sign {path}: there is no such file")
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(chain.alg, chain.cert_pem, chain.key_pem, None))
    except c2pa.C2paError as err:
        raise BackendError(f"the signing chain ({chain.description}) was refused: {err}") from None
    context = c2pa.Context.from_dict(c2pa_settings())
    try:
        _sign_to(path, target, mime, manifest, signer, context)
    finally:
        signer.close()
        context.close()


def _sign_to(path: Path, target: Path, mime: str, manifest: dict, signer, context) -> None:
    """Stream path through a single-use Builder into a temporary file, then rename it to target."""
    import c2pa

    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with open(path, "rb") as source, os.fdopen(fd, "w+b") as out:
            with c2pa.Builder(manifest, context=context) as builder:
                builder.sign(signer, mime, source, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, _mode_for(target, path))
        os.replace(temp, target)
    except c2pa.C2paError as err:
        raise BackendError(f"could not sign {path.name}: {err}") from None
    finally:
        Path(temp).unlink(missing_ok=True)


def _mode_for(target: Path, source: Path) -> int:
    """The permission bits the signed file gets: the file it replaces, else the source's."""
    existing = target if target.exists() else source
    return existing.stat().st_mode & 0o777
