"""Provenance: C2PA Content Credentials and IPTC/XMP "made by AI" fields on storymode's pictures and videos.

    from storymode.provenance import Provenance, build_manifest, local_chain, sign_file, read_credentials, describe
    chain = local_chain()                      # made once in the user's config folder, reused after
    add_ai_xmp(png, source_type="trainedAlgorithmicMedia", tool="storymode 0.9.0", description="scene 1")
    sign_file(png, build_manifest(Provenance("scene 1", "picture", "trainedAlgorithmicMedia",
                                             ("storymode 0.9.0",), ("stabilityai/sd-turbo",))), chain)
    print(describe(read_credentials(png, chain.anchors_pem)))

Importing this package loads neither c2pa nor cryptography; each name loads its module on first use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "SigningChain": "chain", "local_chain": "chain", "user_chain": "chain",
    "SOURCE_TYPES": "manifest", "SOURCE_WORDS": "manifest", "Provenance": "manifest", "build_manifest": "manifest",
    "sign_file": "sign", "MIME_TYPES": "sign",
    "add_ai_xmp": "xmp", "read_ai_xmp": "xmp",
    "Credentials": "verify", "read_credentials": "verify", "describe": "verify",
}

if TYPE_CHECKING:
    from .chain import SigningChain, local_chain, user_chain
    from .manifest import SOURCE_TYPES, SOURCE_WORDS, Provenance, build_manifest
    from .sign import MIME_TYPES, sign_file
    from .verify import Credentials, describe, read_credentials
    from .xmp import add_ai_xmp, read_ai_xmp


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_WHERE)
