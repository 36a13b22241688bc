"""The certificate chain that signs Content Credentials: storymode's own local one, made once per user, or one the
user brings (PEM files).

The local chain is a small CA and a signing certificate under it (EC P-256, es256) in
``platformdirs.user_config_dir("storymode")/signing/``. It is made in a private temporary folder and renamed into
place in one step, so two processes making it at once never leave a mixture: the loser of the rename reads the
winner's files. Verifiers trust it only where they are given its CA (``SigningChain.anchors_pem``); to the rest of
the world the files it signs read "valid, signer unknown", which is what a local key should say.
"""
from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ..errors import UsageError

CA_CERT, CA_KEY, SIGNER_CERT, SIGNER_KEY = "ca.pem", "ca.key", "signer.pem", "signer.key"
CA_YEARS, SIGNER_YEARS = 20, 2
RENEW_BEFORE = datetime.timedelta(days=30)  # a signing certificate this close to its end is reissued
ORGANIZATION = "storymode local chain"

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
# the extended key usages c2pa-rs accepts on a claim signer (its valid_eku_oids.cfg, less the two that are for
# time stamps and OCSP responses only)
SIGNING_EKUS = {ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING, C2PA_CLAIM_SIGNING,
                ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9")}
CURVE_ALGS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


@dataclass(frozen=True)
class SigningChain:
    """A signing certificate (followed by its intermediates, not the root), its private key and algorithm."""

    cert_pem: bytes
    key_pem: bytes
    alg: str  # "es256" | "es384" | "es512" | "ps256" | "ed25519"
    anchors_pem: bytes | None  # the root CA when known (always for the local chain)
    local: bool
    description: str


# ---------------------------------------------------------------- the local chain
def default_folder() -> Path:
    """Where the local chain lives: user_config_dir("storymode")/signing."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("storymode")) / "signing"


def local_chain(folder: Path | None = None) -> SigningChain:
    """storymode's own chain in folder (default: the user's config folder), made on first use and reused after."""
    folder = Path(folder) if folder is not None else default_folder()
    if not folder.exists():
        _create_chain_folder(folder)
    return _load_local(folder)


def local_anchor(folder: Path | None = None) -> bytes | None:
    """The local chain's root certificate when the chain has been made (it is never made here); None otherwise."""
    ca = (Path(folder) if folder is not None else default_folder()) / CA_CERT
    try:
        return ca.read_bytes() if ca.is_file() else None
    except OSError:
        return None


def _create_chain_folder(folder: Path) -> None:
    """Make a CA and a signing certificate in a temporary sibling folder, then rename it to folder in one step."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))  # mode 0700
    except OSError as err:
        raise UsageError(f"could not create the signing folder {folder}: {err.strerror or err}") from None
    try:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _make_ca(ca_key)
        signer_key = ec.generate_private_key(ec.SECP256R1())
        _write(staging / CA_KEY, _key_pem(ca_key), private=True)
        _write(staging / SIGNER_KEY, _key_pem(signer_key), private=True)
        _write(staging / CA_CERT, _cert_pem(ca_cert))
        _write(staging / SIGNER_CERT, _cert_pem(_issue_signer(ca_cert, ca_key, signer_key.public_key())))
        try:
            os.rename(staging, folder)
        except OSError:
            if not folder.is_dir():  # not "another process won the race": a real failure
                raise
    except OSError as err:
        raise UsageError(f"could not create the signing folder {folder}: {err.strerror or err}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_local(folder: Path) -> SigningChain:
    """Read the local chain back, reissuing the signing certificate when it is near its end."""
    missing = [name for name in (CA_CERT, CA_KEY, SIGNER_CERT, SIGNER_KEY) if not (folder / name).is_file()]
    if missing:
        raise UsageError(f"the signing folder {folder} is incomplete (missing {', '.join(missing)}): "
                         "move it away and run again to make a new local chain")
    try:
        ca_cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        signer_cert = x509.load_pem_x509_certificate((folder / SIGNER_CERT).read_bytes())
        key_pem = (folder / SIGNER_KEY).read_bytes()
        signer_key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise UsageError(f"the signing folder {folder} holds a damaged file ({err}): "
                         "move it away and run again to make a new local chain") from None
    if not _same_key(signer_cert, signer_key):
        raise UsageError(f"in {folder}, {SIGNER_KEY} does not belong to {SIGNER_CERT}: "
                         "move the folder away and run again to make a new local chain")
    if signer_cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        signer_cert = _renew_signer(folder, ca_cert, signer_key.public_key())
    return SigningChain(cert_pem=_cert_pem(signer_cert), key_pem=key_pem, alg="es256",
                        anchors_pem=_cert_pem(ca_cert), local=True,
                        description=f"local storymode chain in {folder}")


def _renew_signer(folder: Path, ca_cert: x509.Certificate, public_key) -> x509.Certificate:
    """Issue a fresh signing certificate for the same key (racing processes each write a valid one)."""
    ca_key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    renewed = _issue_signer(ca_cert, ca_key, public_key)
    _write(folder / SIGNER_CERT, _cert_pem(renewed))
    return renewed


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)])


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _make_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A self-signed CA that may sign certificates, not claims (what C2PA asks of a trust anchor)."""
    now = _now()
    name = _name("storymode local CA")
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def _issue_signer(ca_cert: x509.Certificate, ca_key, public_key) -> x509.Certificate:
    """An end-entity certificate for claim signing: digitalSignature, emailProtection + the C2PA signing EKU."""
    now = _now()
    return (x509.CertificateBuilder().subject_name(_name("storymode local signer")).issuer_name(ca_cert.subject)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(min(now + datetime.timedelta(days=365 * SIGNER_YEARS), ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))


# ---------------------------------------------------------------- a chain the user brings
def user_chain(cert: Path, key: Path) -> SigningChain:
    """A chain from the user's PEM files: the signing certificate first, then its intermediates (and root)."""
    cert, key = Path(cert), Path(key)
    certs = _read_certificates(cert)
    private_key = _read_private_key(key)
    leaf, rest = certs[0], certs[1:]
    alg = _algorithm(private_key, key)
    if not _same_key(leaf, private_key):
        raise UsageError(f"the key in {key.name} does not belong to the first certificate in {cert.name}: "
                         "give the signing certificate's own key (and put that certificate first)")
    _check_validity(leaf, cert)
    _check_signing_profile(leaf, cert)
    roots = [c for c in rest if c.subject == c.issuer]
    intermediates = [c for c in rest if c.subject != c.issuer]
    key_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return SigningChain(cert_pem=b"".join(_cert_pem(c) for c in [leaf, *intermediates]), key_pem=key_pem, alg=alg,
                        anchors_pem=b"".join(_cert_pem(c) for c in roots) or None, local=False,
                        description=f"your certificate {cert.name} ({_common_name(leaf)})")


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist: give the path of a PEM file") from None
    except OSError as err:
        raise UsageError(f"cannot read {what} {path}: {err.strerror or err}") from None


def _read_certificates(path: Path) -> list[x509.Certificate]:
    data = _read_bytes(path, "the certificate file")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise UsageError(f"{path.name} is not a PEM certificate file (one or more '-----BEGIN CERTIFICATE-----' "
                         "blocks, the signing certificate first): convert it to PEM") from None


def _read_private_key(path: Path):
    data = _read_bytes(path, "the key file")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise UsageError(f"{path.name} is an encrypted key: give an unencrypted PEM key "
                         "(keep it private: storymode reads it, it never copies it)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError(f"{path.name} is not a PEM private key ('-----BEGIN PRIVATE KEY-----'): "
                         "convert it to PEM") from None


def _algorithm(private_key, path: Path) -> str:
    """The C2PA signing algorithm for a key; UsageError for a key C2PA cannot sign with."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name in CURVE_ALGS:
        return CURVE_ALGS[private_key.curve.name]
    if isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size >= 2048:
        return "ps256"
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise UsageError(f"{path.name} holds a key C2PA cannot sign with: use EC P-256, P-384 or P-521, "
                     "RSA of 2048 bits or more, or Ed25519")


def _check_validity(leaf: x509.Certificate, path: Path) -> None:
    now = _now()
    if now > leaf.not_valid_after_utc:
        raise UsageError(f"the certificate in {path.name} expired on {leaf.not_valid_after_utc:%Y-%m-%d}: "
                         "renew it, or leave out --cert to sign with the local storymode chain")
    if now < leaf.not_valid_before_utc:
        raise UsageError(f"the certificate in {path.name} is not valid until "
                         f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: check the computer's clock or wait")


def _check_signing_profile(leaf: x509.Certificate, path: Path) -> None:
    """What C2PA validators insist on for a claim signer: not a CA, digitalSignature, an accepted EKU."""
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise UsageError(f"the first certificate in {path.name} is a CA certificate: put the signing "
                         "(end-entity) certificate first")
    usage = _extension(leaf, x509.KeyUsage)
    if usage is None or not usage.digital_signature:
        raise UsageError(f"the certificate in {path.name} lacks the digitalSignature key usage that C2PA "
                         "requires: issue one with keyUsage=digitalSignature")
    ekus = _extension(leaf, x509.ExtendedKeyUsage)
    if ekus is None or not SIGNING_EKUS & set(ekus):
        raise UsageError(f"the certificate in {path.name} has no extended key usage C2PA accepts: issue one "
                         "with emailProtection, documentSigning or the C2PA claim-signing usage")


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


# ---------------------------------------------------------------- small helpers
def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _same_key(cert: x509.Certificate, private_key) -> bool:
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*spki) == private_key.public_key().public_bytes(*spki)


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write data to a temporary name beside path (0600 for a key, from the start) and rename it into place."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if not private:
            os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
