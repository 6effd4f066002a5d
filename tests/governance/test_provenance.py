"""C2PA provenance: the signing identity, signing a bundled-generator video, and reading it back.

Everything here runs the real c2pa-python library on real MP4s from the bundled generator: a signed file
must read back Valid (Trusted with our CA as anchor), declare itself AI-generated, and point at its
decision; one flipped byte in the media must read Invalid; an unsigned file reads as absent.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import av
import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from generator_adapter.base import GenerationRequest
from generator_adapter.bundled import BundledGenerator
from governance.errors import UnsupportedMedia
from governance.provenance import (
    AI_SOURCE_TYPE,
    DECISION_LABEL,
    ENV_CERT_CHAIN,
    ENV_KEY,
    ENV_TRUST_ANCHOR,
    ProvenanceError,
    SigningIdentity,
    ensure_signing_identity,
    read_provenance,
    sign_video,
)

DECISION = {
    "check_id": "chk_01HZX",
    "action": "allow",
    "policy_digest": "sha256:" + "ab" * 32,
    "log_index": 17,
    "log_origin": "rightsgate.test/log",
}


@pytest.fixture(scope="module")
def video() -> tuple[bytes, dict[str, object]]:
    generated = BundledGenerator(preset="ultrafast").generate(
        GenerationRequest(prompt="a fox in the snow", seed=4, duration_s=1.0, width=320, height=180, fps=8)
    )
    return generated.data, generated.metadata


@pytest.fixture
def identity(tmp_path: Path) -> SigningIdentity:
    return ensure_signing_identity(tmp_path / "keys", env={})


def generator_of(meta: dict[str, object]) -> dict[str, object]:
    return {"name": meta["generator"], "version": meta["generator_version"], "model": meta["model"]}


def flip_media_byte(data: bytes) -> bytes:
    """Flip one byte inside the mdat box (the coded pictures), well past its header."""
    at = data.index(b"mdat") + 64
    out = bytearray(data)
    out[at] ^= 0xFF
    return bytes(out)


def test_identity_is_created_once_and_reused(tmp_path: Path) -> None:
    first = ensure_signing_identity(tmp_path / "keys", env={})
    folder = tmp_path / "keys" / "c2pa"
    assert sorted(p.name for p in folder.iterdir()) == ["ca.key", "ca.pem", "chain.pem", "signer.key"]
    for key in ("ca.key", "signer.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    assert first.source == "generated" and first.alg == "es256"
    assert first.trust_anchor_pem == (folder / "ca.pem").read_bytes()
    assert "PRIVATE" not in repr(first)

    second = ensure_signing_identity(tmp_path / "keys", env={})
    assert second.fingerprint == first.fingerprint
    assert second.cert_chain_pem == first.cert_chain_pem


def test_signed_video_reads_back_valid_and_trusted_with_its_fields(
    identity: SigningIdentity, video: tuple[bytes, dict[str, object]]
) -> None:
    data, meta = video
    signed = sign_video(data, identity, generator=generator_of(meta), decision=DECISION)

    report = read_provenance(signed, None)
    assert report.state == "Valid"
    assert any(e.startswith("signingCredential.untrusted") for e in report.validation_errors)
    assert report.ai_generated is True
    assert report.generator == {
        "name": "bundled",
        "version": meta["generator_version"],
        "model": meta["model"],
    }
    assert report.decision is not None
    assert {k: report.decision[k] for k in DECISION} == DECISION
    assert str(report.decision["signed_by"]).startswith("rightsgate/")
    assert report.signer is not None and report.signer["common_name"] == "rightsgate C2PA signer"

    trusted = read_provenance(signed, identity.trust_anchor_pem)
    assert trusted.state == "Trusted"
    assert trusted.validation_errors == []

    # The manifest says what the brief promises, in C2PA's own vocabulary.
    with c2pa.Reader("video/mp4", io.BytesIO(signed)) as reader:
        manifest = reader.get_active_manifest()
    assert manifest is not None
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    created = actions["data"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == AI_SOURCE_TYPE
    assert created["softwareAgent"]["name"] == "bundled"
    assert manifest["claim_generator_info"][0]["name"] == "bundled"
    assert any(a["label"] == DECISION_LABEL for a in manifest["assertions"])

    # Signing leaves the video playable: same frames as before.
    with av.open(io.BytesIO(signed)) as c:
        assert sum(1 for _ in c.decode(video=0)) == meta["frames"]


def test_flipped_media_byte_reads_invalid(
    identity: SigningIdentity, video: tuple[bytes, dict[str, object]]
) -> None:
    data, meta = video
    signed = sign_video(data, identity, generator=generator_of(meta), decision=DECISION)
    report = read_provenance(flip_media_byte(signed), identity.trust_anchor_pem)
    assert report.state == "Invalid"
    assert any(e.startswith("assertion.bmffHash.mismatch") for e in report.validation_errors)


def test_unsigned_video_reads_absent(video: tuple[bytes, dict[str, object]]) -> None:
    report = read_provenance(video[0], None)
    assert report.state == "absent"
    assert report.ai_generated is False and report.decision is None


def test_another_ca_does_not_make_it_trusted(
    tmp_path: Path, identity: SigningIdentity, video: tuple[bytes, dict[str, object]]
) -> None:
    other = ensure_signing_identity(tmp_path / "other-keys", env={})
    signed = sign_video(video[0], identity, generator=generator_of(video[1]), decision=DECISION)
    assert read_provenance(signed, other.trust_anchor_pem).state == "Valid"


def test_resigning_keeps_the_earlier_credentials_as_an_ingredient(
    identity: SigningIdentity, video: tuple[bytes, dict[str, object]]
) -> None:
    data, meta = video
    once = sign_video(data, identity, generator={"name": "external", "version": "9"}, decision=DECISION)
    twice = sign_video(
        once, identity, generator=generator_of(meta), decision={**DECISION, "check_id": "chk_2"}
    )
    report = read_provenance(twice, identity.trust_anchor_pem)
    assert report.state == "Trusted" and report.decision is not None
    assert report.decision["check_id"] == "chk_2"
    with c2pa.Reader("video/mp4", io.BytesIO(twice)) as reader:
        store = json.loads(reader.json())
    assert len(store["manifests"]) == 2


def test_refuses_non_mp4_and_bad_inputs(
    identity: SigningIdentity, video: tuple[bytes, dict[str, object]]
) -> None:
    with pytest.raises(UnsupportedMedia):
        read_provenance(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(UnsupportedMedia):
        sign_video(b"not a video", identity, generator={"name": "g", "version": "1"}, decision=DECISION)
    gen = generator_of(video[1])
    with pytest.raises(ProvenanceError, match="unexpected \\['face_embedding'\\]"):
        sign_video(video[0], identity, generator=gen, decision={**DECISION, "face_embedding": [0.1]})
    with pytest.raises(ProvenanceError, match="action must be one of"):
        sign_video(video[0], identity, generator=gen, decision={**DECISION, "action": "maybe"})
    with pytest.raises(ProvenanceError, match="log_index"):
        sign_video(video[0], identity, generator=gen, decision={**DECISION, "log_index": -1})
    with pytest.raises(ProvenanceError, match="name and version"):
        sign_video(video[0], identity, generator={"name": "g"}, decision=DECISION)


# --- an operator's own certificate ---------------------------------------------------------------------

CertFactory = Callable[..., tuple[Path, Path, Path]]


@pytest.fixture
def operator_certs(tmp_path: Path) -> CertFactory:
    """Writes an operator's CA, signing chain and key (Ed25519 by default) and returns their paths."""

    def make(
        *, eku: bool = True, aki: bool = True, with_ca: bool = True, key_mode: int = 0o600
    ) -> tuple[Path, Path, Path]:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP384R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator Root")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_key, hashes.SHA384())
        )
        key = ed25519.Ed25519PrivateKey.generate()
        leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Operator Signer")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(leaf_name)
            .issuer_name(ca_name if with_ca else leaf_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
        )
        if eku:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        if aki and with_ca:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        leaf = builder.sign(ca_key, hashes.SHA384()) if with_ca else builder.sign(key, None)
        pem = serialization.Encoding.PEM
        folder = tmp_path / "operator"
        folder.mkdir(exist_ok=True)
        chain, key_path, anchor = folder / "chain.pem", folder / "signer.key", folder / "root.pem"
        chain.write_bytes(leaf.public_bytes(pem) + (ca.public_bytes(pem) if with_ca else b""))
        anchor.write_bytes(ca.public_bytes(pem))
        key_path.write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        os.chmod(key_path, key_mode)
        return chain, key_path, anchor

    return make


def test_operator_certificate_from_env(
    tmp_path: Path, operator_certs: CertFactory, video: tuple[bytes, dict[str, object]]
) -> None:
    chain, key, anchor = operator_certs()
    env = {ENV_CERT_CHAIN: str(chain), ENV_KEY: str(key), ENV_TRUST_ANCHOR: str(anchor)}
    identity = ensure_signing_identity(tmp_path / "keys", env=env)
    assert identity.source == "env" and identity.alg == "ed25519"
    assert not (tmp_path / "keys" / "c2pa").exists()  # nothing generated when the operator brings a cert
    signed = sign_video(video[0], identity, generator=generator_of(video[1]), decision=DECISION)
    report = read_provenance(signed, identity.trust_anchor_pem)
    assert report.state == "Trusted"
    assert report.signer is not None and report.signer["common_name"] == "Operator Signer"


def test_operator_files_placed_in_keys_dir(
    tmp_path: Path, operator_certs: CertFactory, video: tuple[bytes, dict[str, object]]
) -> None:
    chain, key, anchor = operator_certs()
    folder = tmp_path / "keys" / "c2pa"
    folder.mkdir(parents=True)
    for src, name in ((chain, "chain.pem"), (key, "signer.key"), (anchor, "ca.pem")):
        (folder / name).write_bytes(src.read_bytes())
    os.chmod(folder / "signer.key", 0o600)
    identity = ensure_signing_identity(tmp_path / "keys", env={})
    assert identity.source == "files" and identity.alg == "ed25519"
    signed = sign_video(video[0], identity, generator=generator_of(video[1]), decision=DECISION)
    assert read_provenance(signed, identity.trust_anchor_pem).state == "Trusted"


def test_unusable_operator_certificates_are_refused_clearly(
    tmp_path: Path, operator_certs: CertFactory
) -> None:
    keys = tmp_path / "keys"
    chain, key, _ = operator_certs()
    with pytest.raises(ProvenanceError, match="set both"):
        ensure_signing_identity(keys, env={ENV_CERT_CHAIN: str(chain)})

    chain, key, _ = operator_certs(key_mode=0o644)
    with pytest.raises(ProvenanceError, match="readable by others"):
        ensure_signing_identity(keys, env={ENV_CERT_CHAIN: str(chain), ENV_KEY: str(key)})

    chain, key, _ = operator_certs(eku=False)
    with pytest.raises(ProvenanceError, match="emailProtection"):
        ensure_signing_identity(keys, env={ENV_CERT_CHAIN: str(chain), ENV_KEY: str(key)})

    chain, key, _ = operator_certs(with_ca=False)
    with pytest.raises(ProvenanceError, match="lone"):
        ensure_signing_identity(keys, env={ENV_CERT_CHAIN: str(chain), ENV_KEY: str(key)})

    chain, key, _ = operator_certs(aki=False)
    with pytest.raises(ProvenanceError, match="authorityKeyIdentifier"):
        ensure_signing_identity(keys, env={ENV_CERT_CHAIN: str(chain), ENV_KEY: str(key)})

    chain, _, _ = operator_certs()
    other_chain = tmp_path / "other-chain.pem"
    other_chain.write_bytes(chain.read_bytes())
    _, other_key, _ = operator_certs()  # a fresh key pair: not the one other_chain certifies
    with pytest.raises(ProvenanceError, match="does not belong"):
        ensure_signing_identity(keys, env={ENV_CERT_CHAIN: str(other_chain), ENV_KEY: str(other_key)})


def test_generated_signer_is_renewed_before_it_expires(tmp_path: Path) -> None:
    first = ensure_signing_identity(tmp_path / "keys", env={})
    folder = tmp_path / "keys" / "c2pa"
    ca_cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    signer_key = serialization.load_pem_private_key((folder / "signer.key").read_bytes(), password=None)
    assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
    old_leaf = x509.load_pem_x509_certificate(first.cert_chain_pem)
    now = dt.datetime.now(dt.UTC)
    # Re-issue the same key with only 10 days left, as if the certificate had aged.
    builder = (
        x509.CertificateBuilder()
        .subject_name(old_leaf.subject)
        .issuer_name(ca_cert.subject)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=700))
        .not_valid_after(now + dt.timedelta(days=10))
    )
    for ext in old_leaf.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    aging = builder.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    (folder / "chain.pem").write_bytes(aging.public_bytes(pem) + ca_cert.public_bytes(pem))

    renewed = ensure_signing_identity(tmp_path / "keys", env={})
    assert renewed.fingerprint != first.fingerprint
    assert renewed.not_after - now > dt.timedelta(days=365)
    assert stat.S_IMODE((folder / "signer.key").stat().st_mode) == 0o600
    assert ensure_signing_identity(tmp_path / "keys", env={}).fingerprint == renewed.fingerprint


def test_corrupt_manifest_reads_invalid_and_bad_anchor_is_refused(
    identity: SigningIdentity, video: tuple[bytes, dict[str, object]]
) -> None:
    signed = sign_video(video[0], identity, generator=generator_of(video[1]), decision=DECISION)
    broken = bytearray(signed)
    broken[signed.index(b"c2pa") + 100] ^= 0xFF  # inside the manifest store itself
    report = read_provenance(bytes(broken), identity.trust_anchor_pem)
    assert report.state == "Invalid" and report.validation_errors
    with pytest.raises(ProvenanceError, match="trust anchor"):
        read_provenance(signed, b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
