"""A FAISS vector index keyed by string ids, bound to one embedding model, persisted atomically.

FAISS stores only int64 labels, so ``VectorIndex`` keeps the label -> string id map beside the FAISS index
(as python-threatexchange's ``pdq_index2.py`` does). One string id (a reference work, a cameo) may own several
vectors: a work is registered with flipped and rotated views, a person with several photos. ``remove(ids)``
removes every vector of those ids.

Search is inner product on L2-normalised vectors, i.e. cosine similarity. The index is exact
(``IndexFlatIP`` inside ``IndexIDMap2``) until it holds ``approx_threshold`` vectors, then it is rebuilt as
HNSW, which FAISS cannot delete from: removals there become tombstones, filtered out of results at search
time, and the index is rebuilt from its own stored vectors once tombstones pass a fraction of it.

Every index records the ``model_id`` and ``dim`` of its vectors: an embedding from another model is not
comparable, so ``load`` refuses a file made for another model. Files are written to a temporary file and
``os.replace``d, carry a SHA-256 of their content (FAISS must never parse a damaged buffer), and can be
encrypted by a caller-supplied function (the cameo index holds biometric templates and must be).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

from detectors.base import DetectorError

_MAGIC_PLAIN = b"RGVIDX1\n"
_MAGIC_ENCRYPTED = b"RGVIDXE\n"
_FORMAT_VERSION = 1

IndexKind = Literal["flat", "hnsw"]
Vectors = npt.NDArray[np.float32]


class IndexCorruptError(DetectorError):
    """An index file is damaged, truncated, not an index, or cannot be decrypted."""


class IndexModelMismatchError(DetectorError):
    """An index file (or vectors) belongs to another embedding model or dimension."""


def _as_matrix(vectors: npt.ArrayLike, dim: int) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise IndexModelMismatchError(f"expected vectors of dimension {dim}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("vectors contain NaN or infinite values")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if np.any(norms < 1e-6):
        raise ValueError("a zero vector cannot be indexed (cosine similarity is undefined)")
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class VectorIndex:
    """Cosine-similarity search over vectors of one model, each owned by a string id."""

    def __init__(
        self,
        dim: int,
        model_id: str,
        *,
        approx_threshold: int = 50_000,
        hnsw_m: int = 32,
        ef_search: int = 128,
        rebuild_fraction: float = 0.2,
    ) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        if not model_id:
            raise ValueError("model_id is required: vectors of different models are not comparable")
        self.dim = dim
        self.model_id = model_id
        self.approx_threshold = approx_threshold
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.rebuild_fraction = rebuild_fraction
        self._lock = threading.RLock()
        self._label_to_id: dict[int, str] = {}
        self._id_to_labels: dict[str, list[int]] = {}
        self._tombstones: set[int] = set()
        self._next_label = 0
        self._kind: IndexKind = "flat"
        self._faiss: Any = self._empty("flat")

    # -- construction -------------------------------------------------------------------------------------

    def _empty(self, kind: IndexKind) -> Any:
        inner: Any
        if kind == "flat":
            inner = faiss.IndexFlatIP(self.dim)
        else:
            inner = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = self.ef_search
        return faiss.IndexIDMap2(inner)

    def _live_vectors(self) -> tuple[npt.NDArray[np.int64], Vectors]:
        """(labels, vectors) of every vector not tombstoned, read back from FAISS's own storage."""
        labels = faiss.vector_to_array(self._faiss.id_map).astype(np.int64)
        if labels.size == 0:
            return labels, np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._faiss.index.reconstruct_n(0, self._faiss.ntotal)
        keep = np.array([int(lab) not in self._tombstones for lab in labels], dtype=bool)
        return labels[keep], np.ascontiguousarray(vectors[keep], dtype=np.float32)

    def _rebuild(self) -> None:
        labels, vectors = self._live_vectors()
        kind: IndexKind = "hnsw" if len(labels) >= self.approx_threshold else "flat"
        fresh = self._empty(kind)
        if len(labels):
            fresh.add_with_ids(vectors, labels)
        self._faiss = fresh
        self._kind = kind
        self._tombstones.clear()

    @property
    def kind(self) -> IndexKind:
        """``"flat"`` (exact) or ``"hnsw"`` (approximate)."""
        return self._kind

    # -- mutation -----------------------------------------------------------------------------------------

    def add(self, ids: Sequence[str], vectors: npt.ArrayLike) -> None:
        """Add one vector per entry of ``ids`` (repeat an id to give it several). Vectors are normalised."""
        matrix = _as_matrix(vectors, self.dim)
        if len(ids) != matrix.shape[0]:
            raise ValueError(f"{len(ids)} ids for {matrix.shape[0]} vectors")
        if any(not isinstance(i, str) or not i for i in ids):
            raise ValueError("ids must be non-empty strings")
        with self._lock:
            labels = np.arange(self._next_label, self._next_label + len(ids), dtype=np.int64)
            self._faiss.add_with_ids(matrix, labels)
            self._next_label += len(ids)
            for ref, lab in zip(ids, labels.tolist(), strict=True):
                self._label_to_id[lab] = ref
                self._id_to_labels.setdefault(ref, []).append(lab)
            if self._kind == "flat" and len(self._label_to_id) >= self.approx_threshold:
                self._rebuild()

    def remove(self, ids: Iterable[str]) -> int:
        """Remove every vector of each id; returns how many vectors went. Unknown ids are ignored."""
        with self._lock:
            labels: list[int] = []
            for ref in set(ids):
                labels.extend(self._id_to_labels.pop(ref, []))
            for lab in labels:
                del self._label_to_id[lab]
            if not labels:
                return 0
            if self._kind == "flat":
                self._faiss.remove_ids(np.asarray(labels, dtype=np.int64))
            else:
                self._tombstones.update(labels)
                if len(self._tombstones) > self.rebuild_fraction * max(1, self._faiss.ntotal):
                    self._rebuild()
            return len(labels)

    # -- queries ------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of live vectors (not of ids)."""
        return len(self._label_to_id)

    def ids(self) -> list[str]:
        """Every id with at least one vector, sorted."""
        with self._lock:
            return sorted(self._id_to_labels)

    def __contains__(self, ref: object) -> bool:
        return ref in self._id_to_labels

    def vector_count(self, ref: str) -> int:
        return len(self._id_to_labels.get(ref, ()))

    def search(self, vectors: npt.ArrayLike, k: int) -> list[list[tuple[str, float]]]:
        """For each query, up to ``k`` distinct ids with their best cosine similarity, best first."""
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        queries = _as_matrix(vectors, self.dim)
        with self._lock:
            if not self._label_to_id:
                return [[] for _ in range(len(queries))]
            n_ids = len(self._id_to_labels)
            want = min(k, n_ids)
            # Ask FAISS for a few neighbours per wanted id; a query whose neighbours are mostly other vectors
            # of the same ids (a work stored as many frames) or tombstones is asked again with more.
            k_raw = min(self._faiss.ntotal, 4 * k + len(self._tombstones))
            results: list[list[tuple[str, float]] | None] = [None] * len(queries)
            pending = np.arange(len(queries))
            while len(pending):
                scores, labels = self._faiss.search(queries[pending], k_raw)
                short = []
                for row, row_scores, row_labels in zip(pending.tolist(), scores, labels, strict=True):
                    best: dict[str, float] = {}
                    for score, lab in zip(row_scores.tolist(), row_labels.tolist(), strict=True):
                        ref = self._label_to_id.get(lab) if lab >= 0 else None
                        if ref is None:
                            continue  # -1 padding or a tombstone
                        if ref not in best:
                            best[ref] = score
                            if len(best) == want:
                                break
                    if len(best) < want and k_raw < self._faiss.ntotal:
                        short.append(row)
                    else:
                        results[row] = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
                pending = np.asarray(short, dtype=np.int64)
                k_raw = min(self._faiss.ntotal, k_raw * 4)
            return [r if r is not None else [] for r in results]

    # -- persistence --------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The unencrypted payload: a JSON header (model, dim, id map), FAISS's bytes, and a SHA-256."""
        with self._lock:
            header = {
                "format": _FORMAT_VERSION,
                "model_id": self.model_id,
                "dim": self.dim,
                "kind": self._kind,
                "next_label": self._next_label,
                "approx_threshold": self.approx_threshold,
                "hnsw_m": self.hnsw_m,
                "ef_search": self.ef_search,
                "labels": [[lab, ref] for lab, ref in self._label_to_id.items()],
                "tombstones": sorted(self._tombstones),
            }
            index_bytes = faiss.serialize_index(self._faiss).tobytes()
        head = json.dumps(header, separators=(",", ":")).encode()
        body = struct.pack(">Q", len(head)) + head + index_bytes
        return body + hashlib.sha256(body).digest()

    def save(self, path: str | os.PathLike[str], encrypt: Callable[[bytes], bytes] | None = None) -> None:
        """Write atomically (temporary file, fsync, ``os.replace``); ``encrypt`` wraps the whole payload."""
        payload = self.to_bytes()
        data = _MAGIC_ENCRYPTED + encrypt(payload) if encrypt is not None else _MAGIC_PLAIN + payload
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        try:  # make the rename itself durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @classmethod
    def from_bytes(
        cls, payload: bytes, expected_model_id: str | None, *, source: str = "index"
    ) -> VectorIndex:
        if len(payload) < 8 + 32:
            raise IndexCorruptError(f"{source}: too short to be an index")
        body, digest = payload[:-32], payload[-32:]
        if hashlib.sha256(body).digest() != digest:
            raise IndexCorruptError(f"{source}: checksum mismatch (the file is damaged or truncated)")
        (head_len,) = struct.unpack(">Q", body[:8])
        try:
            header = json.loads(body[8 : 8 + head_len])
            model_id = str(header["model_id"])
            dim = int(header["dim"])
            if int(header["format"]) != _FORMAT_VERSION:
                raise IndexCorruptError(f"{source}: unknown index format {header['format']}")
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{source}: unreadable header ({exc})") from exc
        if expected_model_id is not None and model_id != expected_model_id:
            raise IndexModelMismatchError(
                f"{source}: holds vectors of model {model_id!r}, not {expected_model_id!r}; re-embed the "
                "references with the current model instead of mixing them"
            )
        index = cls(
            dim,
            model_id,
            approx_threshold=int(header["approx_threshold"]),
            hnsw_m=int(header["hnsw_m"]),
            ef_search=int(header["ef_search"]),
        )
        try:
            raw = faiss.deserialize_index(np.frombuffer(body[8 + head_len :], dtype=np.uint8))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{source}: FAISS cannot read the index ({exc})") from exc
        if raw.d != dim:
            raise IndexCorruptError(f"{source}: FAISS index has dimension {raw.d}, header says {dim}")
        # deserialize_index already returns the concrete class and owns the C++ object. (A downcast_index
        # proxy of it would not: once `raw` was collected the proxy would point at freed memory.)
        index._faiss = raw
        if not isinstance(index._faiss, faiss.IndexIDMap2):
            raise IndexCorruptError(f"{source}: unexpected FAISS index type {type(index._faiss).__name__}")
        index._kind = "hnsw" if header["kind"] == "hnsw" else "flat"
        if index._kind == "hnsw":
            hnsw: Any = faiss.downcast_index(index._faiss.index)
            hnsw.hnsw.efSearch = index.ef_search
        index._next_label = int(header["next_label"])
        index._tombstones = {int(t) for t in header["tombstones"]}
        for lab, ref in header["labels"]:
            index._label_to_id[int(lab)] = str(ref)
            index._id_to_labels.setdefault(str(ref), []).append(int(lab))
        if index._faiss.ntotal != len(index._label_to_id) + len(index._tombstones):
            raise IndexCorruptError(
                f"{source}: FAISS holds {index._faiss.ntotal} vectors but the id map accounts for "
                f"{len(index._label_to_id) + len(index._tombstones)}"
            )
        return index

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        expected_model_id: str | None,
        decrypt: Callable[[bytes], bytes] | None = None,
    ) -> VectorIndex:
        """Read an index written by ``save``; another model's index or a damaged file raises a typed error.

        ``expected_model_id=None`` skips the model check (for tools that list indexes, never for search).
        """
        target = Path(path)
        try:
            data = target.read_bytes()
        except OSError as exc:
            raise IndexCorruptError(f"cannot read index file {target}: {exc.strerror or exc}") from exc
        if data.startswith(_MAGIC_ENCRYPTED):
            if decrypt is None:
                raise IndexCorruptError(f"{target}: the index is encrypted and no decrypt function was given")
            try:
                payload = decrypt(data[len(_MAGIC_ENCRYPTED) :])
            except Exception as exc:
                # Whatever the cipher raises (wrong key, tag mismatch), the file cannot be trusted.
                raise IndexCorruptError(f"{target}: cannot decrypt the index ({type(exc).__name__})") from exc
        elif data.startswith(_MAGIC_PLAIN):
            if decrypt is not None:
                raise IndexCorruptError(
                    f"{target}: expected an encrypted index but the file is not encrypted"
                )
            payload = data[len(_MAGIC_PLAIN) :]
        else:
            raise IndexCorruptError(f"{target}: not a rightsgate index file")
        return cls.from_bytes(payload, expected_model_id, source=str(target))


def _file_name(model_id: str) -> str:
    # Readable and filesystem-safe, with a digest so that two ids that sanitise alike never share a file.
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:80]
    return f"{safe}-{hashlib.sha256(model_id.encode()).hexdigest()[:10]}.faiss"


class IndexSet:
    """One index file per model id under ``home_dir``, loaded on first use, guarded by one lock."""

    def __init__(
        self,
        home_dir: str | os.PathLike[str],
        *,
        encrypt: Callable[[bytes], bytes] | None = None,
        decrypt: Callable[[bytes], bytes] | None = None,
        approx_threshold: int = 50_000,
    ) -> None:
        if (encrypt is None) != (decrypt is None):
            raise ValueError("give both encrypt and decrypt, or neither")
        self.home = Path(home_dir)
        self._encrypt = encrypt
        self._decrypt = decrypt
        self._approx_threshold = approx_threshold
        self._lock = threading.Lock()
        self._loaded: dict[str, VectorIndex] = {}

    def path_for(self, model_id: str) -> Path:
        return self.home / _file_name(model_id)

    def get(self, model_id: str, dim: int) -> VectorIndex:
        """The index of ``model_id``: loaded from disk once, or created empty if it has no file yet."""
        with self._lock:
            index = self._loaded.get(model_id)
            if index is None:
                path = self.path_for(model_id)
                if path.exists():
                    index = VectorIndex.load(path, model_id, decrypt=self._decrypt)
                else:
                    index = VectorIndex(dim, model_id, approx_threshold=self._approx_threshold)
                self._loaded[model_id] = index
            if index.dim != dim:
                raise IndexModelMismatchError(f"index of {model_id!r} has dimension {index.dim}, not {dim}")
            return index

    def save(self, model_id: str) -> None:
        with self._lock:
            index = self._loaded.get(model_id)
            if index is None:
                return
            index.save(self.path_for(model_id), encrypt=self._encrypt)

    def save_all(self) -> None:
        with self._lock:
            for model_id, index in self._loaded.items():
                index.save(self.path_for(model_id), encrypt=self._encrypt)

    def loaded(self) -> list[str]:
        with self._lock:
            return sorted(self._loaded)
