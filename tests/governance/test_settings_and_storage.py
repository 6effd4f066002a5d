"""Settings refuse insecure defaults; blobs are content-addressed and atomic; the cipher authenticates."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlmodel import SQLModel

import governance.schema  # noqa: F401
from governance import migrate
from governance.blobs import BlobStore
from governance.crypto import DecryptionError, load_or_create_key
from governance.db import make_engine
from governance.settings import Settings


def test_development_defaults_are_embedded(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    assert s.db_url == f"sqlite:///{tmp_path.resolve() / 'rightsgate.db'}"


def test_production_refuses_development_defaults(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"RIGHTSGATE_LOG_ORIGIN.*RIGHTSGATE_DATABASE_URL"):
        Settings(env="production", home=tmp_path)
    with pytest.raises(ValidationError, match="absolute"):
        Settings(env="production", home=Path("var"), log_origin="example.org/log", database_url="sqlite://")
    ok = Settings(env="production", home=tmp_path, log_origin="example.org/log", database_url="sqlite://")
    assert ok.env == "production"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RIGHTSGATE_HOME", str(tmp_path))
    monkeypatch.setenv("RIGHTSGATE_MAX_UPLOAD_BYTES", "1234")
    s = Settings()
    assert s.home_dir == tmp_path.resolve() and s.max_upload_bytes == 1234


def test_blobs_are_content_addressed_and_leave_no_temporaries(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", load_or_create_key(tmp_path / "k"))
    digest = store.put(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert store.get(digest) == b"hello" and store.put(b"hello") == digest
    assert store.path(digest).parts[-3:] == (digest[:2], digest[2:4], digest)
    assert not [p for p in (tmp_path / "blobs").rglob(".tmp-*")]
    with pytest.raises(ValueError, match="SHA-256"):
        store.get("../../etc/passwd")


def test_secret_blobs_are_encrypted_and_erasable(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", load_or_create_key(tmp_path / "k"))
    digest = store.put_secret(b"a face photo" * 10)
    on_disk = next(p for p in (tmp_path / "blobs" / "secret").rglob("*") if p.is_file()).read_bytes()
    assert b"a face photo" not in on_disk
    assert store.get_secret(digest) == b"a face photo" * 10
    store.erase_secret(digest)
    assert not [p for p in (tmp_path / "blobs" / "secret").rglob("*") if p.is_file()]


def test_cipher_binds_purpose_and_refuses_tampering(tmp_path: Path) -> None:
    c = load_or_create_key(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    blob = c.encrypt(b"template", aad=b"cameo:1")
    assert c.decrypt(blob, aad=b"cameo:1") == b"template"
    with pytest.raises(DecryptionError):
        c.decrypt(blob, aad=b"cameo:2")
    with pytest.raises(DecryptionError):
        c.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), aad=b"cameo:1")
    other = load_or_create_key(tmp_path / "k2")
    with pytest.raises(DecryptionError):
        other.decrypt(blob, aad=b"cameo:1")
    assert "key" in repr(c) and "template" not in repr(c)


def test_data_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_or_create_key(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_key(tmp_path / "k")


@pytest.mark.storage
def test_migrations_match_the_models(db_url: str) -> None:
    """Alembic's head creates exactly the tables the models declare (no missing migration)."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], diff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0", ("image", "image/jpeg")),
        (b"\x89PNG\r\n\x1a\n", ("image", "image/png")),
        (b"RIFF\0\0\0\0WEBPVP8 ", ("image", "image/webp")),
        (b"\0\0\0\x18ftypisom", ("video", "video/mp4")),
        (b"\0\0\0\x18ftypqt  ", ("video", "video/quicktime")),
        (b"\x1a\x45\xdf\xa3\x42\x82webm", ("video", "video/webm")),
        (b"\0\0\0\x18ftypavif", None),
        (b"\x1a\x45\xdf\xa3\x42\x82matroska", None),
        (b"%PDF-1.7", None),
    ],
)
def test_uploads_are_typed_by_their_bytes(head: bytes, expected: tuple[str, str] | None) -> None:
    from governance.media import sniff

    assert sniff(head) == expected
