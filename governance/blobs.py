"""Content-addressed file storage under ``RIGHTSGATE_HOME/blobs``: a file's name is its SHA-256.

Writes are atomic (temporary file, fsync, rename), so a crash never leaves a half-written blob under its
final name. Sensitive blobs (enrollment media) are stored encrypted in a separate area, still addressed
by the plaintext's hash, and can be erased.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from governance.crypto import DataCipher


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BlobStore:
    def __init__(self, root: Path, cipher: DataCipher | None = None) -> None:
        self.root = root
        self._cipher = cipher

    def _path(self, digest: str, secret: bool) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("not a SHA-256 hex digest")
        area = "secret" if secret else "public"
        return self.root / area / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        path = self._path(digest, secret=False)
        if not path.exists():
            atomic_write(path, data)
        return digest

    def get(self, digest: str) -> bytes:
        return self._path(digest, secret=False).read_bytes()

    def path(self, digest: str) -> Path:
        return self._path(digest, secret=False)

    def exists(self, digest: str) -> bool:
        return self._path(digest, secret=False).exists()

    def put_secret(self, data: bytes) -> str:
        if self._cipher is None:
            raise RuntimeError("no data key: cannot store sensitive media")
        digest = sha256_bytes(data)
        path = self._path(digest, secret=True)
        if not path.exists():
            atomic_write(path, self._cipher.encrypt(data, aad=b"blob:" + digest.encode()))
        return digest

    def get_secret(self, digest: str) -> bytes:
        if self._cipher is None:
            raise RuntimeError("no data key: cannot read sensitive media")
        blob = self._path(digest, secret=True).read_bytes()
        return self._cipher.decrypt(blob, aad=b"blob:" + digest.encode())

    def erase_secret(self, digest: str) -> None:
        self._path(digest, secret=True).unlink(missing_ok=True)
