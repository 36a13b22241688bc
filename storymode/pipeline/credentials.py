"""Content Credentials for what a run makes (storymode.provenance): every picture gets the IPTC/XMP "made by AI"
fields and a signed C2PA manifest when it is drawn; the video gets a manifest before it takes its final name. The
signer is the user's own chain (sign_cert and sign_key) or the local chain made once in the user config folder."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..config import Settings
from ..errors import UsageError
from ..events import Event, Listener, ignore
from ..workspace import atomic_path
from .common import stage_backend

if TYPE_CHECKING:
    from ..provenance.chain import SigningChain
    from ..provenance.manifest import Provenance

TOOL = f"storymode {__version__}"


def signing_chain(settings: Settings, emit: Listener = ignore) -> "SigningChain | None":
    """The chain that signs this run's outputs; None when credentials are turned off. The first run on a machine
    makes the local chain, and says where (a note event)."""
    if not settings.credentials:
        return None
    from ..provenance.chain import default_folder, local_anchor, local_chain, user_chain

    if bool(settings.sign_cert) != bool(settings.sign_key):
        given, missing = ("sign_cert", "sign_key") if settings.sign_cert else ("sign_key", "sign_cert")
        raise UsageError(f"{given} is set but {missing} is not: give both (--sign-cert CHAIN.pem --sign-key KEY.pem), "
                         "or neither to sign with the local storymode chain")
    if settings.sign_cert and settings.sign_key:
        return user_chain(Path(settings.sign_cert), Path(settings.sign_key))
    made_now = local_anchor() is None
    chain = local_chain()
    if made_now:
        emit(Event("note", "illustrate", message=f"made a local signing chain for Content Credentials in "
                                                 f"{default_folder()} (README: Safety and provenance says what it "
                                                 "proves)"))
    return chain


def chain_id(chain: "SigningChain | None") -> str | None:
    """What in the chain changes a signed output (its certificate), for cache keys; None when unsigned."""
    if chain is None:
        return None
    import hashlib

    return hashlib.sha256(chain.cert_pem).hexdigest()[:16]


def model_names(backend: Any) -> tuple[str, ...]:
    """The model a backend ran, by name (a local file as its name only); none for rules and shipped parts."""
    if not getattr(backend, "trained", True):
        return ()
    model = getattr(backend, "model", None)
    if not isinstance(model, str):
        model = backend.options.model_dump().get("model")
    if not isinstance(model, str) or not model:
        return (f"{backend.name} ({backend.stage}'s own model)",)
    return (Path(model).name if Path(model).is_absolute() else model,)


def picture_provenance(title: str, drawn: dict, settings: Settings) -> "Provenance":
    """What a scene's picture says about itself: who drew it (the backend that did, a fallback included), with
    which model, and whether it was fitted to the frame afterwards."""
    from ..provenance.manifest import Provenance

    backend = str(drawn.get("backend") or settings.illustrator)
    procedural = backend == "storybook"
    models: tuple[str, ...] = ()
    if not procedural:
        model = drawn.get("model")
        models = (str(model),) if model else model_names(stage_backend("illustrator", settings))
    generated, size = drawn.get("generated_size"), drawn.get("size")
    edited = ("fitted to the frame",) if generated and size and list(generated) != list(size) else ()
    return Provenance(title=title, kind="picture",
                      source_type="compositeSynthetic" if procedural else "trainedAlgorithmicMedia",
                      tools=(TOOL, f"{backend} illustrator"), models=models, edited=edited)


def video_provenance(title: str, settings: Settings, *, read_aloud: bool, own_text: bool) -> "Provenance":
    """What the video says about itself: a composite of the narration and the pictures, the models that made
    them, and which parts are the person's own."""
    from ..provenance.manifest import Provenance

    stages = ["illustrator"] + ([] if read_aloud else ["narrator"]) + ([] if own_text else ["writer"])
    backends = [stage_backend(stage, settings) for stage in stages]
    models = tuple(dict.fromkeys(name for backend in backends for name in model_names(backend)))
    trained = any(getattr(backend, "trained", True) for backend in backends)
    inputs = tuple(what for what, own in (("the person's own text", own_text),
                                          ("the person's own recording", read_aloud)) if own)
    return Provenance(title=title, kind="video",
                      source_type="compositeWithTrainedAlgorithmicMedia" if trained else "compositeSynthetic",
                      tools=(TOOL, *(f"{b.name} {b.stage}" for b in backends), f"{settings.composer} composer"),
                      models=models, edited=("narration, music and captions mixed",), human_inputs=inputs)


def credit_picture(png: Path, provenance: "Provenance", chain: "SigningChain") -> None:
    """The XMP AI fields, then the signed manifest, into a PNG (in place, atomically)."""
    from ..provenance.manifest import build_manifest
    from ..provenance.sign import sign_file
    from ..provenance.xmp import add_ai_xmp

    add_ai_xmp(png, source_type=provenance.source_type, tool=TOOL,
               description=f"{provenance.title}: made with AI ({', '.join(provenance.tools[1:])})")
    with atomic_path(png) as signed:  # a temporary name the folder's sweep knows
        sign_file(png, build_manifest(provenance), chain, dest=signed, mime="image/png")


def credit_video(mp4: Path, provenance: "Provenance", chain: "SigningChain") -> None:
    """The signed manifest into an MP4 (in place, atomically)."""
    from ..provenance.manifest import build_manifest
    from ..provenance.sign import sign_file

    with atomic_path(mp4) as signed:
        sign_file(mp4, build_manifest(provenance), chain, dest=signed, mime="video/mp4")


def known_anchors() -> bytes | None:
    """The local chain's root certificate when it has been made (never made here), to trust our own files by."""
    from ..provenance.chain import local_anchor

    return local_anchor()
