"""Read a file's Content Credentials back and say, in a few plain lines, what they claim and whether they hold.

c2pa's Reader validates offline (no remote manifests, no OCSP, no network at all). States:
trusted (signature good, signer chains to a given anchor), valid (signature good, signer not on the trust list),
changed (the media no longer matches its hash: edited after signing), invalid (any other failure), none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .manifest import INPUTS_LABEL, MODELS_PARAMETER, SOURCE_WORDS, software_agent, source_key
from .sign import c2pa_settings

# what a file of each suffix starts with (an MP4/MOV/M4A box "ftyp" at offset 4)
READ_TYPES = {".png": ("image/png", 0, b"\x89PNG\r\n\x1a\n"), ".jpg": ("image/jpeg", 0, b"\xff\xd8\xff"),
              ".jpeg": ("image/jpeg", 0, b"\xff\xd8\xff"), ".mp4": ("video/mp4", 4, b"ftyp"),
              ".m4v": ("video/mp4", 4, b"ftyp"), ".m4a": ("audio/mp4", 4, b"ftyp"),
              ".mov": ("video/quicktime", 4, b"ftyp")}
# failure codes that mean the media itself was changed after it was signed
HASH_MISMATCHES = {"assertion.dataHash.mismatch", "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch",
                   "assertion.collectionHash.mismatch"}
UNTRUSTED = "signingCredential.untrusted"
STATES = {"Trusted": "trusted", "Valid": "valid"}
SHOWN = 160  # at most this many characters of any one text from a file
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Credentials:
    """What a file's Content Credentials say, and whether they hold."""

    found: bool
    state: str  # "trusted" | "valid" | "changed" | "invalid" | "none"
    signer: str | None
    title: str | None
    generator: str | None  # the claim generator, e.g. "storymode 0.9.0"
    source_type: str | None  # a SOURCE_TYPES key (or the last part of an unknown IPTC URI)
    actions: tuple[str, ...]  # "c2pa.created", "c2pa.edited: captions burned in", ...
    models: tuple[str, ...]
    human_inputs: tuple[str, ...]
    problems: tuple[str, ...]  # "code: explanation" for each validation failure
    tools: tuple[str, ...] = ()  # from storymode's own assertion; the created action's software agent otherwise


NO_CREDENTIALS = Credentials(found=False, state="none", signer=None, title=None, generator=None, source_type=None,
                             actions=(), models=(), human_inputs=(), problems=())


def read_credentials(path: Path, anchors_pem: bytes | None = None) -> Credentials:
    """Read and validate path's Content Credentials; anchors_pem (PEM roots) makes a signer under them trusted."""
    import c2pa

    path = Path(path)
    mime = _readable_type(path)
    try:
        context = c2pa.Context.from_dict(c2pa_settings(anchors_pem))
    except (c2pa.C2paError, UnicodeDecodeError):
        raise UsageError("the trust anchors are not PEM certificates ('-----BEGIN CERTIFICATE-----')") from None
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, context=context)
            if reader is None:
                return NO_CREDENTIALS
            with reader:
                return _credentials(reader.get_active_manifest() or {}, reader.get_validation_state(),
                                    reader.get_validation_results() or {})
    except c2pa.C2paError as err:  # a manifest store that cannot even be parsed, or one kept online
        return _unreadable(err)
    finally:
        context.close()


def _unreadable(err: Exception) -> Credentials:
    """Credentials that are there but cannot be checked: damaged, or kept online (we never fetch them)."""
    message = str(err)
    if message.startswith(("Remote", "RemoteManifest")):
        problem = "the credentials are kept online, not in the file; storymode verifies offline and did not fetch them"
    else:
        problem = f"unreadable credentials: {message}"
    return Credentials(found=True, state="invalid", signer=None, title=None, generator=None, source_type=None,
                       actions=(), models=(), human_inputs=(), problems=(problem,))


def _readable_type(path: Path) -> str:
    """The MIME type to read path as; UsageError when it is missing or not a kind of file we read."""
    kind = READ_TYPES.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"cannot read Content Credentials from {path.name}: give a "
                         f"{', '.join(sorted(READ_TYPES))} file")
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    mime, offset, magic = kind
    with open(path, "rb") as stream:
        head = stream.read(offset + len(magic))
    if head[offset:] != magic:
        raise UsageError(f"{path.name} is not a {path.suffix.lower().lstrip('.').upper()} file")
    return mime


def _credentials(manifest: dict, validation_state: str | None, results: dict) -> Credentials:
    failures = _failures(results)
    codes = {code for code, _ in failures}
    if validation_state in STATES:
        state = STATES[validation_state]
    else:
        state = "changed" if codes & HASH_MISMATCHES else "invalid"
    actions = _actions(manifest)
    created = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    inputs = _assertion(manifest, INPUTS_LABEL)
    models = inputs.get("models") or (created.get("parameters") or {}).get(MODELS_PARAMETER) or []
    agent = created.get("softwareAgent")
    tools = inputs.get("tools") or ([_agent_name(agent)] if isinstance(agent, dict) else [])
    return Credentials(
        found=True, state=state, signer=_signer(manifest.get("signature_info") or {}),
        title=manifest.get("title"), generator=_generator(manifest.get("claim_generator_info")),
        source_type=source_key(created.get("digitalSourceType")),
        actions=tuple(_action_text(a) for a in actions), models=_strings(models),
        human_inputs=_strings(inputs.get("human_inputs") or []),
        problems=tuple(f"{code}: {text}" if text else code for code, text in failures), tools=_strings(tools))


def _failures(results: dict) -> list[tuple[str, str]]:
    """(code, explanation) of every failure in the active manifest's validation results."""
    failures = (results.get("activeManifest") or {}).get("failure") or []
    return [(str(f.get("code", "")), str(f.get("explanation") or "")) for f in failures if isinstance(f, dict)]


def _actions(manifest: dict) -> list[dict]:
    found: list[dict] = []
    for label in ("c2pa.actions.v2", "c2pa.actions"):
        found += [a for a in (_assertion(manifest, label).get("actions") or []) if isinstance(a, dict)]
    return found


def _assertion(manifest: dict, label: str) -> dict:
    for assertion in manifest.get("assertions") or []:
        if isinstance(assertion, dict) and assertion.get("label") == label and isinstance(assertion.get("data"), dict):
            return assertion["data"]
    return {}


def _action_text(action: dict) -> str:
    name, description = str(action.get("action", "?")), action.get("description")
    return f"{name}: {description}" if description else name


def _agent_name(agent: dict) -> str:
    return " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))


def _generator(info) -> str | None:
    if isinstance(info, list) and info and isinstance(info[0], dict):
        return _agent_name(info[0]) or None
    return str(info) if info else None


def _signer(signature: dict) -> str | None:
    parts = [str(signature[k]) for k in ("common_name", "issuer") if signature.get(k)]
    return ", ".join(dict.fromkeys(parts)) or None


def _strings(values) -> tuple[str, ...]:
    return tuple(str(v) for v in values) if isinstance(values, list) else ()


# ---------------------------------------------------------------- in words
def describe(c: Credentials) -> str:
    """What `storymode verify FILE` prints: a few plain lines on who made it, how, and whether that holds."""
    if not c.found:
        return "No Content Credentials: this file does not say where it came from."
    lines = []
    if c.state == "changed":
        lines.append("CHANGED since it was signed: the file no longer matches its Content Credentials.")
    elif c.state == "invalid":
        lines.append("INVALID Content Credentials: they cannot be relied on.")
    if c.title:
        lines.append(f"Title: {_shown(c.title)}")
    made_by = _shown(c.generator or "unknown")
    generator_name = software_agent(c.generator)["name"] if c.generator else None
    other_tools = [t for t in c.tools if software_agent(t)["name"] != generator_name]  # storymode is named once
    lines.append(f"Made by: {made_by}" + (f" ({', '.join(_shown(t) for t in other_tools)})" if other_tools else ""))
    if c.source_type:
        words = SOURCE_WORDS.get(c.source_type, _shown(c.source_type))
        lines.append(f"AI: {words} ({_shown(c.source_type)})")
    if c.models:
        lines.append(f"Models: {', '.join(_shown(m) for m in c.models)}")
    if c.actions:
        lines.append(f"Actions: {'; '.join(_shown(_plain_action(a)) for a in c.actions)}")
    if c.human_inputs:
        lines.append(f"Inputs: {', '.join(_shown(i) for i in c.human_inputs)}")
    lines.append(f"Signed by: {_shown(c.signer or 'unknown')} - {_trust_words(c.state)}")
    if c.state in ("changed", "invalid"):
        lines += [f"  problem: {_shown(p)}" for p in c.problems if not p.startswith(UNTRUSTED)][:5]
    return "\n".join(lines)


def _trust_words(state: str) -> str:
    return {"trusted": "trusted (the signer chains to a trusted certificate)",
            "valid": "signature valid, but the signer is not on the trust list",
            "changed": "the signature covers a file that has since been changed",
            }.get(state, "the signature does not check out")


def _plain_action(action: str) -> str:
    return action.removeprefix("c2pa.")


def _shown(text: str) -> str:
    """Text from a file made safe for a terminal: no control characters, cut to SHOWN characters."""
    clean = UNPRINTABLE.sub("", str(text))
    return clean if len(clean) <= SHOWN else clean[:SHOWN - 1] + "…"
