"""Content Credentials for real: the local chain made once, PNG and MP4 signed and read back by c2pa's own Reader,
trusted with our CA and merely valid without it, a changed byte caught, the pixels and frames untouched, the XMP
AI fields readable by Pillow, users' own certificates checked, and no request ever made for remote credentials."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, PngImagePlugin

import storymode
from storymode.errors import UsageError
from storymode.provenance import (Provenance, SigningChain, add_ai_xmp, build_manifest, describe, local_chain,
                                  read_ai_xmp, read_credentials, sign_file, user_chain)
from storymode.provenance.manifest import SOURCE_TYPES

from .conftest import decode_video

TESTS = Path(__file__).resolve().parent
PICTURE = Provenance(title="Scene 1: the fox", kind="picture", source_type="trainedAlgorithmicMedia",
                     tools=("storymode 0.9.0", "diffusers illustrator 2"), models=("stabilityai/sd-turbo",),
                     edited=("captions burned in",), human_inputs=("the user's own text",))
VIDEO = Provenance(title="The fox who flew", kind="video", source_type="compositeSynthetic",
                   tools=("storymode 0.9.0", "ffmpeg composer"), models=("Kokoro-82M",),
                   edited=("narration mixed",), human_inputs=("the user's own recording",))


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------- fixtures: media made here, one chain per module
@pytest.fixture(scope="module")
def chain_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config") / "signing"


@pytest.fixture(scope="module")
def chain(chain_folder: Path) -> SigningChain:
    return local_chain(chain_folder)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An unsigned PNG (with a text chunk and a resolution) and a 1 s MP4, to copy from."""
    folder = tmp_path_factory.mktemp("media")
    y, x = np.mgrid[0:64, 0:96]
    pixels = np.stack([x * 2, y * 3, (x + y) % 256], axis=-1).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made for a test")
    Image.fromarray(pixels).save(folder / "scene.png", pnginfo=info, dpi=(150, 150))
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(folder / "story.mp4")], check=True)
    return {"png": folder / "scene.png", "mp4": folder / "story.mp4"}


def copy(source: Path, folder: Path, name: str | None = None) -> Path:
    target = folder / (name or source.name)
    target.write_bytes(source.read_bytes())
    return target


@pytest.fixture
def signed_png(media, chain, tmp_path) -> Path:
    png = copy(media["png"], tmp_path)
    add_ai_xmp(png, source_type="trainedAlgorithmicMedia", tool="storymode 0.9.0", description="a fox on a hill")
    sign_file(png, build_manifest(PICTURE), chain)
    return png


@pytest.fixture
def signed_mp4(media, chain, tmp_path) -> Path:
    mp4 = tmp_path / "signed.mp4"
    sign_file(media["mp4"], build_manifest(VIDEO), chain, dest=mp4)
    return mp4


def flip_middle_byte(path: Path) -> None:
    """Change one byte in the middle of the media data: a PNG's first IDAT chunk or an MP4's top-level mdat box."""
    data = bytearray(path.read_bytes())
    start, end = _png_idat(data) if path.suffix == ".png" else _mp4_mdat(data)
    data[(start + end) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _png_idat(data: bytearray) -> tuple[int, int]:
    at = 8
    while True:
        length, kind = int.from_bytes(data[at:at + 4], "big"), bytes(data[at + 4:at + 8])
        if kind == b"IDAT":
            return at + 8, at + 8 + length
        at += 12 + length


def _mp4_mdat(data: bytearray) -> tuple[int, int]:
    at = 0
    while True:
        size, kind, header = int.from_bytes(data[at:at + 4], "big"), bytes(data[at + 4:at + 8]), 8
        if size == 1:
            size, header = int.from_bytes(data[at + 8:at + 16], "big"), 16
        if kind == b"mdat":
            return at + header, at + size
        at += size


# ---------------------------------------------------------------- the local chain
def _files(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def test_the_local_chain_is_made_once_and_reused(tmp_path):
    folder = tmp_path / "signing"
    first = local_chain(folder)
    made = _files(folder)
    assert set(made) == {"ca.pem", "ca.key", "signer.pem", "signer.key"}
    again = local_chain(folder)
    assert again == first and _files(folder) == made  # same files, not rewritten
    for key in ("ca.key", "signer.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in tmp_path.iterdir()] == ["signing"]  # no staging folder left behind
    assert first.local and first.alg == "es256" and str(folder) in first.description
    leaf = x509.load_pem_x509_certificate(first.cert_pem)
    ca = x509.load_pem_x509_certificate(first.anchors_pem)
    assert len(x509.load_pem_x509_certificates(first.cert_pem)) == 1  # the root is not in the signing chain
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)


def test_the_default_folder_is_in_the_users_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    made = local_chain()
    assert (tmp_path / "config" / "storymode" / "signing" / "signer.key").is_file()
    assert str(tmp_path / "config" / "storymode" / "signing") in made.description


def test_threads_making_the_chain_at_once_get_one_chain(tmp_path):
    folder, results, start = tmp_path / "signing", [], threading.Barrier(8)

    def make() -> None:
        start.wait()
        results.append(local_chain(folder))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing"]


def test_processes_making_the_chain_at_once_get_one_chain(tmp_path):
    folder = tmp_path / "signing"
    code = ("import sys; from pathlib import Path; from storymode.provenance.chain import local_chain; "
            "c = local_chain(Path(sys.argv[1])); print(c.cert_pem.hex(), c.key_pem.hex(), c.anchors_pem.hex())")
    runs = [subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
            for _ in range(4)]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert len(set(outputs)) == 1 and outputs[0].strip()
    assert outputs[0].split()[0] == local_chain(folder).cert_pem.hex()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing"]


def test_a_signing_certificate_near_its_end_is_reissued_under_the_same_ca(tmp_path, media):
    folder = tmp_path / "signing"
    first = local_chain(folder)
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    old = x509.load_pem_x509_certificate(first.cert_pem)
    now = datetime.datetime.now(datetime.timezone.utc)
    short = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.issuer).public_key(old.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=5)))
    for ext in old.extensions:
        short = short.add_extension(ext.value, ext.critical)
    (folder / "signer.pem").write_bytes(short.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    renewed = local_chain(folder)
    cert = x509.load_pem_x509_certificate(renewed.cert_pem)
    assert cert.not_valid_after_utc - now > datetime.timedelta(days=300)
    assert renewed.key_pem == first.key_pem and renewed.anchors_pem == first.anchors_pem
    png = copy(media["png"], tmp_path)
    sign_file(png, build_manifest(PICTURE), renewed)
    assert read_credentials(png, first.anchors_pem).state == "trusted"


def test_an_incomplete_signing_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "signing"
    local_chain(folder)
    (folder / "signer.key").unlink()
    with pytest.raises(UsageError, match="incomplete.*signer.key"):
        local_chain(folder)


# ---------------------------------------------------------------- signing and reading back
def test_a_signed_png_is_trusted_with_our_ca_and_valid_without(signed_png, chain, media):
    trusted = read_credentials(signed_png, chain.anchors_pem)
    assert trusted.found and trusted.state == "trusted", trusted.problems
    assert trusted.title == "Scene 1: the fox"
    assert trusted.source_type == "trainedAlgorithmicMedia"
    assert trusted.actions == ("c2pa.created", "c2pa.edited: captions burned in")
    assert trusted.models == ("stabilityai/sd-turbo",)
    assert trusted.human_inputs == ("the user's own text",)
    assert trusted.generator.startswith("storymode ")
    assert trusted.signer == "storymode local signer, storymode local chain"
    untrusted = read_credentials(signed_png)
    assert untrusted.state == "valid"
    assert any(p.startswith("signingCredential.untrusted") for p in untrusted.problems)
    assert read_credentials(signed_png, _other_root()).state == "valid"  # someone else's root: not trusted


def _other_root() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_picture_keeps_its_pixels_chunks_and_xmp_after_signing(signed_png, media):
    with Image.open(media["png"]) as before, Image.open(signed_png) as after:
        assert np.array_equal(np.asarray(before), np.asarray(after))
        assert after.info["Comment"] == "made for a test"
        assert after.info["dpi"] == before.info["dpi"] == pytest.approx((150, 150), abs=0.1)
        xmp = after.info["XML:com.adobe.xmp"]  # Pillow reads the iTXt packet itself
    assert SOURCE_TYPES["trainedAlgorithmicMedia"] in xmp
    assert read_ai_xmp(signed_png) == {"digital_source_type": SOURCE_TYPES["trainedAlgorithmicMedia"],
                                       "source_type": "trainedAlgorithmicMedia", "creator_tool": "storymode 0.9.0",
                                       "description": "a fox on a hill"}


def test_a_signed_mp4_is_trusted_and_still_decodes_to_the_same_frames(signed_mp4, chain, media):
    trusted = read_credentials(signed_mp4, chain.anchors_pem)
    assert trusted.state == "trusted", trusted.problems
    assert trusted.source_type == "compositeSynthetic" and trusted.models == ("Kokoro-82M",)
    assert trusted.actions == ("c2pa.created", "c2pa.edited: narration mixed")
    assert trusted.human_inputs == ("the user's own recording",)
    assert read_credentials(signed_mp4).state == "valid"
    assert np.array_equal(decode_video(signed_mp4, 160, 120), decode_video(media["mp4"], 160, 120))
    assert len(decode_video(signed_mp4, 160, 120)) == 10


def test_c2pas_own_reader_reads_our_manifest(signed_png, chain):
    import c2pa

    settings = {"trust": {"user_anchors": chain.anchors_pem.decode()}, "verify": {"remote_manifest_fetch": False}}
    with open(signed_png, "rb") as stream, \
            c2pa.Reader("image/png", stream, context=c2pa.Context.from_dict(settings)) as reader:
        assert reader.get_validation_state() == "Trusted"
        manifest = reader.get_active_manifest()
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    created, edited = assertions["c2pa.actions.v2"]["actions"]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert created["softwareAgent"] == {"name": "diffusers illustrator", "version": "2"}
    assert created["parameters"]["org.storymode.models"] == ["stabilityai/sd-turbo"]
    assert (edited["action"], edited["description"]) == ("c2pa.edited", "captions burned in")
    assert edited["softwareAgent"]["name"] == "storymode"
    assert assertions["org.storymode.inputs"]["human_inputs"] == ["the user's own text"]
    assert manifest["claim_generator_info"][0]["name"] == "storymode"
    assert manifest["title"] == "Scene 1: the fox"
    assert "thumbnail" not in manifest


@pytest.mark.parametrize("kind", ["png", "mp4"])
def test_a_byte_changed_in_the_media_reads_as_changed(kind, signed_png, signed_mp4, chain):
    path = signed_png if kind == "png" else signed_mp4
    flip_middle_byte(path)
    changed = read_credentials(path, chain.anchors_pem)
    assert changed.found and changed.state == "changed"
    assert any("Hash.mismatch" in p for p in changed.problems)
    assert describe(changed).splitlines()[0].startswith("CHANGED since it was signed")


def test_a_changed_assertion_reads_as_invalid(signed_png, chain):
    data = signed_png.read_bytes()
    assert data.count(b"stabilityai/sd-turbo") == 2  # the created action's parameters and our assertion
    signed_png.write_bytes(data.replace(b"stabilityai/sd-turbo", b"stabilityai/sd-turbX"))
    broken = read_credentials(signed_png, chain.anchors_pem)
    assert broken.state == "invalid"
    assert any(p.startswith("assertion.hashedURI.mismatch") for p in broken.problems)
    assert describe(broken).startswith("INVALID")


def test_an_unsigned_file_has_no_credentials(media):
    for path in media.values():
        found = read_credentials(path)
        assert not found.found and found.state == "none"
    assert describe(read_credentials(media["png"])).startswith("No Content Credentials")


def test_signing_again_replaces_the_credentials(signed_png, chain):
    sign_file(signed_png, build_manifest(dataclasses.replace(PICTURE, title="again")), chain)
    again = read_credentials(signed_png, chain.anchors_pem)
    assert again.state == "trusted" and again.title == "again"


def test_signing_in_place_is_atomic_and_keeps_the_permissions(media, chain, tmp_path):
    png = copy(media["png"], tmp_path)
    os.chmod(png, 0o640)
    sign_file(png, build_manifest(PICTURE), chain)
    assert stat.S_IMODE(png.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [png.name]  # no temporary file left
    assert read_credentials(png).found


def test_signing_to_a_destination_leaves_the_source_alone(media, chain, tmp_path):
    before = media["png"].read_bytes()
    out = tmp_path / "out.png"
    sign_file(media["png"], build_manifest(PICTURE), chain, dest=out)
    assert media["png"].read_bytes() == before and read_credentials(out, chain.anchors_pem).state == "trusted"


def test_threads_sign_at_once(media, chain, tmp_path):
    sources = [copy(media["png"] if i % 2 else media["mp4"], tmp_path, f"f{i}{'.png' if i % 2 else '.mp4'}")
               for i in range(8)]
    start, errors = threading.Barrier(len(sources)), []

    def sign(path: Path) -> None:
        start.wait()
        try:
            sign_file(path, build_manifest(dataclasses.replace(PICTURE, title=path.name)), chain)
        except Exception as err:  # collected: an exception in a thread would not fail the test
            errors.append(err)

    threads = [threading.Thread(target=sign, args=(path,)) for path in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for path in sources:
        found = read_credentials(path, chain.anchors_pem)
        assert (found.state, found.title) == ("trusted", path.name)


def test_a_jpeg_is_signed_too(tmp_path, chain):
    jpg = tmp_path / "cover.jpeg"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(jpg, quality=90)
    sign_file(jpg, build_manifest(PICTURE), chain)
    assert read_credentials(jpg, chain.anchors_pem).state == "trusted"
    with Image.open(jpg) as decoded:
        assert decoded.size == (64, 48)


@pytest.mark.parametrize("name", ["story.gif", "story.webm", "notes.txt", "noext"])
def test_signing_an_unsupported_kind_of_file_is_a_usage_error(tmp_path, chain, name):
    path = tmp_path / name
    path.write_bytes(b"GIF89a")
    with pytest.raises(UsageError, match=r"\.png, \.jpg, \.jpeg and \.mp4"):
        sign_file(path, build_manifest(PICTURE), chain)


def test_reading_a_missing_unsupported_or_mislabelled_file_is_a_usage_error(tmp_path, media):
    with pytest.raises(UsageError, match="does not exist"):
        read_credentials(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UsageError, match="cannot read Content Credentials"):
        read_credentials(tmp_path / "notes.txt")
    (tmp_path / "fake.png").write_text("not a picture")
    with pytest.raises(UsageError, match="not a PNG"):
        read_credentials(tmp_path / "fake.png")
    with pytest.raises(UsageError, match="trust anchors are not PEM"):
        read_credentials(media["png"], b"not a certificate")


def test_remote_credentials_are_never_fetched(media, chain, tmp_path, loopback_server):
    import c2pa

    port, log = loopback_server
    png = copy(media["png"], tmp_path)
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(chain.alg, chain.cert_pem, chain.key_pem, None))
    remote = tmp_path / "remote.png"
    with c2pa.Builder(build_manifest(PICTURE)) as builder, open(png, "rb") as src, open(remote, "w+b") as dst:
        builder.set_no_embed()
        builder.set_remote_url(f"http://127.0.0.1:{port}/manifest.c2pa")
        builder.sign(signer, "image/png", src, dst)
    found = read_credentials(remote, chain.anchors_pem)
    assert found.found and found.state == "invalid" and "did not fetch" in found.problems[0]
    assert not log.exists()  # no request reached the server
    with pytest.raises(c2pa.C2paError):  # c2pa's default would have fetched it: the check above has teeth
        c2pa.Reader(str(remote))
    assert log.read_text().split() == ["/manifest.c2pa"]


SERVER = """
import sys
sys.path.insert(0, sys.argv[2])
from http.server import BaseHTTPRequestHandler
from loopback import serve
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[1], "a") as log:
            log.write(self.path + "\\n")
        self.send_response(404)
        self.end_headers()
    def log_message(self, *args):
        pass
serve(Handler)
"""


@pytest.fixture
def loopback_server(tmp_path):
    """A server on 127.0.0.1 that writes every path asked of it to a log file; yields (port, log)."""
    log = tmp_path / "requests.log"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(log), str(TESTS / "servers")],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[1])
        yield port, log
    finally:
        server.terminate()
        server.wait(timeout=10)


# ---------------------------------------------------------------- XMP
def test_xmp_text_is_escaped_and_cleaned(media, tmp_path):
    png = copy(media["png"], tmp_path)
    add_ai_xmp(png, source_type="algorithmicMedia", tool='tool <b> & "q"', description="a \x00fox\x1b <&> 'x'")
    add_ai_xmp(png, source_type="algorithmicMedia", tool='tool <b> & "q"', description="a \x00fox\x1b <&> 'x'")
    assert png.read_bytes().count(b"XML:com.adobe.xmp") == 1  # replaced, not added twice
    fields = read_ai_xmp(png)
    assert fields["creator_tool"] == 'tool <b> & "q"' and fields["description"] == "a fox <&> 'x'"
    assert fields["source_type"] == "algorithmicMedia"
    with Image.open(png) as decoded, Image.open(media["png"]) as original:
        assert np.array_equal(np.asarray(decoded), np.asarray(original))
    assert read_ai_xmp(media["png"]) == {}


def test_xmp_after_signing_is_refused(signed_png):
    with pytest.raises(UsageError, match="before signing"):
        add_ai_xmp(signed_png, source_type="algorithmicMedia", tool="t", description="d")


# ---------------------------------------------------------------- describe
def test_describe_says_who_made_it_and_whether_it_holds(signed_png, chain):
    text = describe(read_credentials(signed_png, chain.anchors_pem))
    lines = dict(line.split(": ", 1) for line in text.splitlines())
    assert lines["Made by"] == f"storymode {storymode.__version__} (diffusers illustrator 2)"
    assert lines["AI"].startswith("made by a generative AI model")
    assert lines["Models"] == "stabilityai/sd-turbo"
    assert lines["Actions"] == "created; edited: captions burned in"
    assert lines["Inputs"] == "the user's own text"
    assert lines["Signed by"].endswith("trusted (the signer chains to a trusted certificate)")
    assert "not on the trust list" in describe(read_credentials(signed_png))


def test_describe_cleans_text_from_the_file(media, chain, tmp_path):
    png = copy(media["png"], tmp_path)
    nasty = Provenance(title="\x1b[31mred\x1b[0m" + "x" * 500, kind="picture", source_type="algorithmicMedia",
                       tools=(), models=())
    sign_file(png, build_manifest(nasty), chain)
    text = describe(read_credentials(png, chain.anchors_pem))
    title = text.splitlines()[0]
    assert "\x1b" not in text and title.startswith("Title: [31mred") and len(title) < 200


# ---------------------------------------------------------------- a chain the user brings
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test")])


def make_user_chain(folder: Path, *, key=None, days=(-1, 365), digital_signature=True, include_root=True,
                    eku=(ExtendedKeyUsageOID.EMAIL_PROTECTION,)) -> tuple[Path, Path, bytes]:
    """A root CA and a leaf under it, written as cert.pem (leaf, then root) and key.pem; returns them + the root."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test Root")).issuer_name(_name("Test Root"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = key or ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name("Test Signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1]))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature, not digital_signature, False, False, False, False, False,
                                         False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    root = ca.public_bytes(pem)
    (folder / "cert.pem").write_bytes(leaf.public_bytes(pem) + (root if include_root else b""))
    (folder / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL
                                                       if isinstance(key, ec.EllipticCurvePrivateKey)
                                                       else serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem", root


@pytest.mark.parametrize("kind, alg", [("p256", "es256"), ("p384", "es384"), ("rsa", "ps256"),
                                       ("ed25519", "ed25519")])
def test_a_users_chain_signs_and_is_trusted_under_its_root(tmp_path, media, kind, alg):
    key = {"p256": lambda: ec.generate_private_key(ec.SECP256R1()),
           "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
           "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
           "ed25519": ed25519.Ed25519PrivateKey.generate}[kind]()
    cert, key_path, root = make_user_chain(tmp_path, key=key)
    chain = user_chain(cert, key_path)
    assert chain.alg == alg and not chain.local and chain.anchors_pem == root
    assert len(x509.load_pem_x509_certificates(chain.cert_pem)) == 1  # the root travels as the anchor only
    png = copy(media["png"], tmp_path)
    sign_file(png, build_manifest(PICTURE), chain)
    found = read_credentials(png, chain.anchors_pem)
    assert found.state == "trusted", found.problems
    assert found.signer == "Test Signer, Test"


def test_a_users_chain_without_its_root_has_no_anchor(tmp_path):
    cert, key, _ = make_user_chain(tmp_path, include_root=False)
    assert user_chain(cert, key).anchors_pem is None


@pytest.mark.parametrize("problem, match", [
    ("expired", "expired on"),
    ("not yet valid", "not valid until"),
    ("other key", "does not belong to the first certificate"),
    ("cert not PEM", "not a PEM certificate"),
    ("key not PEM", "not a PEM private key"),
    ("missing cert", "does not exist"),
    ("no digitalSignature", "lacks the digitalSignature key usage"),
    ("unsupported key", "C2PA cannot sign with"),
    ("server EKU", "no extended key usage C2PA accepts"),
])
def test_a_bad_user_chain_is_a_short_usage_error(tmp_path, problem, match):
    options = {"expired": {"days": (-30, -1)}, "not yet valid": {"days": (2, 30)},
               "no digitalSignature": {"digital_signature": False},
               "unsupported key": {"key": ec.generate_private_key(ec.SECP256K1())},
               "server EKU": {"eku": (ExtendedKeyUsageOID.SERVER_AUTH,)}}.get(problem, {})
    cert, key, _ = make_user_chain(tmp_path, **options)
    if problem == "other key":
        key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    elif problem == "cert not PEM":
        leaf = x509.load_pem_x509_certificates(cert.read_bytes())[0]
        cert.write_bytes(leaf.public_bytes(serialization.Encoding.DER))
    elif problem == "key not PEM":
        key.write_text("hello")
    elif problem == "missing cert":
        cert.unlink()
    with pytest.raises(UsageError, match=match) as caught:
        user_chain(cert, key)
    assert len(str(caught.value)) < 200 and "\n" not in str(caught.value)


# ---------------------------------------------------------------- a big video streams
@pytest.mark.slow
def test_a_50_mb_mp4_is_signed_by_streaming(tmp_path, chain, chain_folder):
    big = tmp_path / "big.mp4"
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25,noise=alls=60:allf=t", "-t", "1.2", "-c:v", "libx264",
                    "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", str(big)], check=True)
    assert big.stat().st_size > 45_000_000
    code = """
import json, resource, sys
from pathlib import Path
from storymode.provenance import Provenance, build_manifest, local_chain, sign_file
chain, big = local_chain(Path(sys.argv[1])), Path(sys.argv[2])
manifest = build_manifest(Provenance("big", "video", "compositeSynthetic", (), ()))
sign_file(Path(sys.argv[3]), manifest, chain, dest=big.with_name("warm.mp4"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sign_file(big, manifest, chain)
print(json.dumps({"grew_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))
"""
    small = tmp_path / "small.mp4"
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=0.5:size=64x48:rate=10",
                    "-pix_fmt", "yuv420p", str(small)], check=True)
    out = subprocess.run([sys.executable, "-c", code, str(chain_folder), str(big), str(small)], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out)["grew_mb"] < 20  # the file is 50 MB: it was never held in memory
    assert read_credentials(big, chain.anchors_pem).state == "trusted"
