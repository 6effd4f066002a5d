"""C2PA Content Credentials for published videos: the signing identity, signing, and reading back.

Every video rightsgate lets through is signed with a C2PA manifest (c2pa-python) that says, in terms any
C2PA reader understands, that it is AI-generated: a ``c2pa.actions`` assertion with ``c2pa.created`` and
the IPTC digital source type ``trainedAlgorithmicMedia``, the generator as ``claim_generator_info`` and as
the action's ``softwareAgent``. A custom assertion, ``org.rightsgate.decision``, points at the decision that
allowed it (check id, action, policy digest, and the signed log's origin and index), so anyone holding the
file can look the decision up.

Signing is offline: no timestamp authority is contacted, and reading never fetches remote manifests or
OCSP responses. The signing certificate must chain to a CA (C2PA refuses a lone self-signed certificate)
and carry the digitalSignature key usage, the emailProtection (or documentSigning) extended key usage, and
an authorityKeyIdentifier (without one, c2pa-python 0.38 refuses the chain as "the certificate is invalid").

:func:`ensure_signing_identity` finds the identity in this order:

1. ``RIGHTSGATE_C2PA_CERT_CHAIN`` and ``RIGHTSGATE_C2PA_KEY`` name PEM files (the chain: signing
   certificate first, then its CA or intermediates; the key: PKCS#8 or traditional PEM, unencrypted, mode
   0600). ``RIGHTSGATE_C2PA_TRUST_ANCHOR`` may name the root CA certificate, used when reading back.
2. ``<keys_dir>/c2pa/chain.pem`` and ``<keys_dir>/c2pa/signer.key`` (and optionally ``ca.pem``): an
   operator's own files placed there, or the ones a previous run created.
3. Otherwise it creates a local CA and a signing certificate there (ES256). Such a file reads back as
   ``Valid`` everywhere, and as ``Trusted`` only where ``ca.pem`` is configured as a trust anchor.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from governance.errors import RightsgateError, UnsupportedMedia

AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# Also AI-generated in the IPTC vocabulary: AI content composited with other media.
_AI_SOURCE_TYPES = {
    AI_SOURCE_TYPE,
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
}
DECISION_LABEL = "org.rightsgate.decision"
ENV_CERT_CHAIN = "RIGHTSGATE_C2PA_CERT_CHAIN"
ENV_KEY = "RIGHTSGATE_C2PA_KEY"
ENV_TRUST_ANCHOR = "RIGHTSGATE_C2PA_TRUST_ANCHOR"

_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
_ACCEPTED_EKUS = {ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING}
_CA_DAYS = 3650
_SIGNER_DAYS = 730
_RENEW_BEFORE = dt.timedelta(days=30)
_DECISION_ACTIONS = {"allow", "review", "block"}
# Reading is offline and checks the chain against the trust anchors we give it, and nothing else.
_READ_SETTINGS: dict[str, Any] = {
    "verify": {
        "verify_trust": True,
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
    }
}

State = Literal["Trusted", "Valid", "Invalid", "absent"]
Alg = Literal["es256", "es384", "es512", "ps256", "ed25519"]
_ALGS: dict[str, c2pa.C2paSigningAlg] = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}


class ProvenanceError(RightsgateError):
    """The signing identity is unusable, or signing failed. Never "publish unsigned" on this."""

    code = "provenance_error"
    status = 500


@dataclass(frozen=True)
class SigningIdentity:
    """A signing certificate chain and its private key (the key never appears in a repr)."""

    cert_chain_pem: bytes
    private_key_pem: bytes = field(repr=False)
    alg: Alg
    trust_anchor_pem: bytes | None
    source: Literal["generated", "files", "env"]
    fingerprint: str  # SHA-256 of the signing certificate (DER), hex
    subject: str
    not_after: dt.datetime


@dataclass(frozen=True)
class ProvenanceReport:
    """What a C2PA reader says about a file: ``state`` is the verdict, the rest what the manifest claims."""

    state: State
    ai_generated: bool = False
    generator: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    validation_errors: list[str] = field(default_factory=list)
    signer: dict[str, Any] | None = None
    manifest_label: str | None = None


# --- the signing identity ---------------------------------------------------------------------------


def ensure_signing_identity(keys_dir: Path, *, env: Mapping[str, str] | None = None) -> SigningIdentity:
    """Load the C2PA signing identity, creating a local CA and signing certificate on first use.

    Idempotent: a second call loads the same certificate. A generated signing certificate is re-issued
    from the local CA when it is within 30 days of expiry. ``env`` defaults to ``os.environ``.
    """
    env = os.environ if env is None else env
    chain_env, key_env = env.get(ENV_CERT_CHAIN), env.get(ENV_KEY)
    if chain_env or key_env:
        if not (chain_env and key_env):
            raise ProvenanceError(f"set both {ENV_CERT_CHAIN} and {ENV_KEY} (PEM files), or neither")
        anchor = env.get(ENV_TRUST_ANCHOR)
        return _load(
            Path(chain_env),
            Path(key_env),
            Path(anchor) if anchor else None,
            source="env",
        )

    folder = keys_dir / "c2pa"
    if not (folder / "chain.pem").exists() and not (folder / "signer.key").exists():
        _create(folder)
    # A ca.key beside the chain means we created this identity (an operator's files come without one).
    ours = (folder / "ca.key").exists()
    paths = (folder / "chain.pem", folder / "signer.key", folder / "ca.pem")
    if ours and _expires_soon(folder / "chain.pem"):
        _renew_signer(folder)
    return _load(*paths, source="generated" if ours else "files")


def _expires_soon(chain_path: Path) -> bool:
    try:
        leaf = x509.load_pem_x509_certificate(chain_path.read_bytes())
    except (OSError, ValueError):
        return False  # _load reports the problem with a clear message
    return leaf.not_valid_after_utc - _now() < _RENEW_BEFORE


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rightsgate (local)"),
        ]
    )


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _issue_signer(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = _now()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("rightsgate C2PA signer"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew between hosts
        .not_valid_after(min(now + dt.timedelta(days=_SIGNER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _create(folder: Path) -> None:
    """Create CA + signer in a temporary folder and rename it into place: concurrent first runs are safe."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".c2pa-", dir=folder.parent))  # mode 0700
    try:
        now = _now()
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("rightsgate C2PA local CA")
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(sign=False, ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert, key = _issue_signer(ca_cert, ca_key)
        _write_private(tmp / "ca.key", _pem_key(ca_key))
        _write_private(tmp / "signer.key", _pem_key(key))
        (tmp / "ca.pem").write_bytes(_pem_cert(ca_cert))
        (tmp / "chain.pem").write_bytes(_pem_cert(cert) + _pem_cert(ca_cert))
        try:
            tmp.rename(folder)
        except OSError:
            if not (folder / "chain.pem").exists():
                raise ProvenanceError(
                    f"{folder} exists but holds no chain.pem/signer.key: fix or remove it"
                ) from None
            # Another process created it first: use theirs.
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _renew_signer(folder: Path) -> None:
    ca_cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key(_read_private(folder / "ca.key"), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ProvenanceError(f"{folder / 'ca.key'} is not the EC key this module creates")
    if ca_cert.not_valid_after_utc - _now() < _RENEW_BEFORE:
        raise ProvenanceError(f"the local C2PA CA in {folder} expires soon: remove the folder to start over")
    cert, key = _issue_signer(ca_cert, ca_key)
    # Key first, then chain, each replaced atomically; a reader in between fails the key check, not silently.
    for name, data, private in (
        ("signer.key", _pem_key(key), True),
        ("chain.pem", _pem_cert(cert) + _pem_cert(ca_cert), False),
    ):
        tmp = folder / f".{name}.new"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if private:
            _write_private(tmp, data)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, folder / name)


def _read_private(path: Path) -> bytes:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise ProvenanceError(f"C2PA signing key {path} does not exist") from None
    if mode & 0o077:
        raise ProvenanceError(f"C2PA signing key {path} is readable by others (mode {mode:o}); chmod 600 it")
    return path.read_bytes()


def _load(
    chain_path: Path,
    key_path: Path,
    anchor_path: Path | None,
    *,
    source: Literal["generated", "files", "env"],
) -> SigningIdentity:
    try:
        chain_pem = chain_path.read_bytes()
    except OSError as exc:
        raise ProvenanceError(
            f"cannot read the C2PA certificate chain {chain_path}: {exc.strerror}"
        ) from None
    key_pem = _read_private(key_path)
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise ProvenanceError(f"{chain_path} is not a PEM certificate chain") from None
    if len(certs) < 2:
        raise ProvenanceError(
            f"{chain_path} must hold the signing certificate followed by its CA: C2PA refuses a lone "
            "(self-signed) certificate"
        )
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ProvenanceError(f"{key_path} is not an unencrypted PEM private key") from None
    leaf = certs[0]
    alg = _alg_for(key)
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ProvenanceError(
            f"the key in {key_path} does not belong to the first certificate in {chain_path}"
        )
    _check_signing_certificate(leaf, chain_path)
    anchor_pem = None
    if anchor_path is not None and anchor_path.exists():
        anchor_pem = anchor_path.read_bytes()
        try:
            x509.load_pem_x509_certificates(anchor_pem)
        except ValueError:
            raise ProvenanceError(f"{anchor_path} is not a PEM certificate") from None
    return SigningIdentity(
        cert_chain_pem=chain_pem,
        private_key_pem=key_pem,
        alg=alg,
        trust_anchor_pem=anchor_pem,
        source=source,
        fingerprint=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        subject=leaf.subject.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
    )


def _alg_for(key: object) -> Alg:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves: dict[str, Alg] = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in curves:
            return curves[key.curve.name]
        raise ProvenanceError(f"EC curve {key.curve.name} is not usable for C2PA (use P-256, P-384 or P-521)")
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise ProvenanceError(f"a {type(key).__name__} key is not usable for C2PA (use EC P-256, Ed25519 or RSA)")


def _check_signing_certificate(cert: x509.Certificate, where: Path) -> None:
    """C2PA's profile for claim signing certificates, checked up front so failures name the cause."""
    now = _now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ProvenanceError(
            f"the signing certificate in {where} is not valid now "
            f"({cert.not_valid_before_utc:%Y-%m-%d} .. {cert.not_valid_after_utc:%Y-%m-%d})"
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        raise ProvenanceError(f"the signing certificate in {where} lacks the digitalSignature key usage")
    try:
        ekus = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        ekus = set()
    if not ekus & _ACCEPTED_EKUS:
        raise ProvenanceError(
            f"the signing certificate in {where} needs the emailProtection or documentSigning "
            "extended key usage"
        )
    if cert.issuer == cert.subject:
        raise ProvenanceError(
            f"the signing certificate in {where} is self-signed: C2PA needs one issued by a CA"
        )
    try:
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        # Measured: c2pa-python 0.38 refuses such a chain with only "the certificate is invalid".
        raise ProvenanceError(
            f"the signing certificate in {where} lacks the authorityKeyIdentifier extension C2PA requires"
        ) from None


# --- signing ----------------------------------------------------------------------------------------


def _rightsgate_version() -> str:
    try:
        return importlib.metadata.version("rightsgate")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _check_decision(decision: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields that point at the decision go into a public manifest: nothing else can leak."""
    required = {"check_id", "action", "policy_digest", "log_origin", "log_index"}
    missing = required - decision.keys()
    extra = decision.keys() - required
    if missing or extra:
        raise ProvenanceError(
            f"decision must have exactly {sorted(required)}; "
            f"missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    if not isinstance(decision["check_id"], str) or not decision["check_id"]:
        raise ProvenanceError("decision check_id must be a non-empty string")
    if decision["action"] not in _DECISION_ACTIONS:
        raise ProvenanceError(f"decision action must be one of {sorted(_DECISION_ACTIONS)}")
    if not isinstance(decision["policy_digest"], str) or not decision["policy_digest"]:
        raise ProvenanceError("decision policy_digest must be a non-empty string")
    if not isinstance(decision["log_origin"], str) or not decision["log_origin"]:
        raise ProvenanceError("decision log_origin must be a non-empty string")
    index = decision["log_index"]
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        raise ProvenanceError("decision log_index must be a non-negative integer or None (not logged)")
    return dict(decision)


def _check_generator(generator: Mapping[str, Any]) -> dict[str, str]:
    name, version = generator.get("name"), generator.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        raise ProvenanceError("generator must have a non-empty name and version")
    out = {"name": name, "version": version}
    model = generator.get("model")
    if isinstance(model, str) and model:
        out["model"] = model
    return out


def sign_video(
    data: bytes,
    identity: SigningIdentity,
    *,
    generator: Mapping[str, Any],
    decision: Mapping[str, Any],
) -> bytes:
    """Return ``data`` (an MP4) with an embedded, signed C2PA manifest declaring it AI-generated.

    ``generator``: ``name``, ``version`` and optionally ``model``. ``decision``: exactly ``check_id``,
    ``action``, ``policy_digest``, ``log_origin`` and ``log_index`` (None when the decision was not logged).
    If the file already carries Content Credentials (an external generator's), they are kept as an
    ingredient of the new manifest rather than discarded.
    """
    if data[4:8] != b"ftyp":
        raise UnsupportedMedia("only MP4 (ISO BMFF) videos can be signed here")
    gen = _check_generator(generator)
    agent = {"name": gen["name"], "version": gen["version"]}
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": AI_SOURCE_TYPE,
        "softwareAgent": agent,
    }
    if "model" in gen:
        action["parameters"] = {"model": gen["model"]}
    manifest = {
        "claim_generator_info": [agent],
        "title": "generated.mp4",
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {
                "label": DECISION_LABEL,
                "data": {**_check_decision(decision), "signed_by": f"rightsgate/{_rightsgate_version()}"},
            },
        ],
    }
    context = _offline_context(None)
    try:
        prior = c2pa.Reader.try_create("video/mp4", io.BytesIO(data), None, context)
    except c2pa.C2paError:
        prior = None  # unreadable old credentials are not carried over; the new manifest replaces them
    finally:
        context.close()
    try:
        info = c2pa.C2paSignerInfo(
            _ALGS[identity.alg], identity.cert_chain_pem, identity.private_key_pem, None
        )
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
            if prior is not None:
                prior.close()
                builder.add_ingredient(
                    {"title": "generator output", "relationship": "componentOf"},
                    "video/mp4",
                    io.BytesIO(data),
                )
            out = io.BytesIO()
            builder.sign(signer, "video/mp4", io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed: {exc}") from exc
    signed = out.getvalue()
    if len(signed) <= len(data):
        raise ProvenanceError("C2PA signing produced no manifest")
    return signed


# --- reading ----------------------------------------------------------------------------------------


def read_provenance(data: bytes, trust_anchor_pem: bytes | None = None) -> ProvenanceReport:
    """Validate a video's Content Credentials. ``Trusted`` needs the signer's CA in ``trust_anchor_pem``.

    ``absent``: no manifest at all. ``Invalid``: a manifest that does not validate (e.g. the media was
    changed after signing: ``assertion.bmffHash.mismatch``), or one that cannot even be parsed.
    """
    if data[4:8] != b"ftyp":
        raise UnsupportedMedia("not an MP4 (ISO BMFF) video")
    context = _offline_context(trust_anchor_pem)
    try:
        reader = c2pa.Reader.try_create("video/mp4", io.BytesIO(data), None, context)
        if reader is None:
            return ProvenanceReport(state="absent")
        with reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
            label = json.loads(reader.json()).get("active_manifest")
    except c2pa.C2paError as exc:
        return ProvenanceReport(state="Invalid", validation_errors=[f"manifest unreadable: {exc}"])
    finally:
        context.close()

    failures = (results.get("activeManifest") or {}).get("failure") or []
    errors = [f"{f.get('code')}: {f.get('explanation', '')}".rstrip(": ") for f in failures]
    verdict: State = state if state in {"Trusted", "Valid"} else "Invalid"
    ai, agent = _ai_action(manifest)
    decision = next(
        (a.get("data") for a in manifest.get("assertions", []) if a.get("label") == DECISION_LABEL), None
    )
    info = (manifest.get("claim_generator_info") or [None])[0]
    generator = agent or ({"name": info.get("name"), "version": info.get("version")} if info else None)
    sig = manifest.get("signature_info") or {}
    return ProvenanceReport(
        state=verdict,
        ai_generated=ai,
        generator=generator,
        decision=decision if isinstance(decision, dict) else None,
        validation_errors=errors,
        signer={k: sig.get(k) for k in ("alg", "issuer", "common_name")} if sig else None,
        manifest_label=label,
    )


def _offline_context(trust_anchor_pem: bytes | None) -> Any:
    """A c2pa Context that validates against exactly these anchors and never touches the network."""
    settings = copy.deepcopy(_READ_SETTINGS)
    if trust_anchor_pem:
        settings["trust"] = {"user_anchors": trust_anchor_pem.decode("ascii", "replace")}
    try:
        return c2pa.Context.from_dict(settings)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"the C2PA trust anchor is not usable: {exc}") from exc


def _ai_action(manifest: Mapping[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    for assertion in manifest.get("assertions", []):
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions", []):
            if action.get("action") == "c2pa.created" and action.get("digitalSourceType") in _AI_SOURCE_TYPES:
                agent = action.get("softwareAgent")
                generator = dict(agent) if isinstance(agent, dict) else None
                if generator is not None and isinstance(action.get("parameters"), dict):
                    model = action["parameters"].get("model")
                    if model:
                        generator["model"] = model
                return True, generator
    return False, None
