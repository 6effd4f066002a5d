"""Tests of the FAISS vector index: search, ids with several vectors, removal, files and encryption."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import DetectorError
from detectors.index import IndexCorruptError, IndexModelMismatchError, IndexSet, VectorIndex

DIM = 16
MODEL = "test-model@0123456789ab"


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float32)


def kind(index: VectorIndex) -> str:
    return index.kind


def aes_pair(key: bytes) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    aead = AESGCM(key)

    def encrypt(data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aead.encrypt(nonce, data, b"rightsgate-index")

    def decrypt(blob: bytes) -> bytes:
        return aead.decrypt(blob[:12], blob[12:], b"rightsgate-index")

    return encrypt, decrypt


@pytest.fixture
def filled() -> tuple[VectorIndex, np.ndarray]:
    rng = np.random.default_rng(1)
    vecs = unit(rng, 30)
    index = VectorIndex(DIM, MODEL)
    index.add([f"ref-{i // 3}" for i in range(30)], vecs)  # ten ids, three vectors each
    return index, vecs


def test_search_returns_the_id_of_the_exact_vector_with_cosine_one(
    filled: tuple[VectorIndex, np.ndarray],
) -> None:
    index, vecs = filled
    results = index.search(vecs[[0, 7, 29]], k=3)
    assert [r[0][0] for r in results] == ["ref-0", "ref-2", "ref-9"]
    for r in results:
        assert r[0][1] == pytest.approx(1.0, abs=1e-5)
        assert len(r) == 3
        assert len({ref for ref, _ in r}) == 3, "each id appears once, with its best vector's score"
        assert [s for _, s in r] == sorted((s for _, s in r), reverse=True)


def test_len_ids_and_contains(filled: tuple[VectorIndex, np.ndarray]) -> None:
    index, _ = filled
    assert len(index) == 30
    assert index.ids() == sorted(f"ref-{i}" for i in range(10))
    assert "ref-3" in index and "ref-10" not in index
    assert index.vector_count("ref-3") == 3


def test_remove_drops_every_vector_of_an_id(filled: tuple[VectorIndex, np.ndarray]) -> None:
    index, vecs = filled
    assert index.remove(["ref-0", "ref-unknown"]) == 3
    assert len(index) == 27 and "ref-0" not in index
    for hits in index.search(vecs[:3], k=10):
        assert "ref-0" not in {ref for ref, _ in hits}
    assert index.remove(["ref-0"]) == 0


def test_an_id_with_many_vectors_does_not_crowd_out_the_others() -> None:
    rng = np.random.default_rng(7)
    query = unit(rng, 1)
    near = query + 0.05 * unit(rng, 200)  # a work stored as 200 frames, all close to the query
    index = VectorIndex(DIM, MODEL)
    index.add(["long-video"] * 200, near)
    index.add(["a", "b", "c"], unit(rng, 3))
    (hits,) = index.search(query, k=3)
    assert hits[0][0] == "long-video"
    assert len(hits) == 3 and len({ref for ref, _ in hits}) == 3


def test_vectors_are_normalised_on_add_and_queries_too() -> None:
    index = VectorIndex(3, MODEL)
    index.add(["a", "b"], np.array([[10.0, 0, 0], [0, 5.0, 0]]))
    (hits,) = index.search(np.array([[3.0, 3.0, 0.0]]), k=2)
    assert hits[0][1] == pytest.approx(np.sqrt(0.5), abs=1e-5)


def test_bad_inputs_raise_typed_errors() -> None:
    index = VectorIndex(DIM, MODEL)
    rng = np.random.default_rng(0)
    with pytest.raises(IndexModelMismatchError, match="dimension 16"):
        index.add(["a"], unit(rng, 1, 8))
    with pytest.raises(ValueError, match="zero vector"):
        index.add(["a"], np.zeros((1, DIM)))
    with pytest.raises(ValueError, match="NaN"):
        index.add(["a"], np.full((1, DIM), np.nan))
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        index.add(["a", "b"], unit(rng, 1))
    with pytest.raises(ValueError, match="non-empty"):
        index.add([""], unit(rng, 1))
    with pytest.raises(ValueError, match="k must be positive"):
        index.search(unit(rng, 1), k=0)
    with pytest.raises(ValueError, match="model_id"):
        VectorIndex(DIM, "")
    assert index.search(unit(rng, 2), k=5) == [[], []]


def test_exact_index_becomes_hnsw_past_the_threshold_and_removal_still_works() -> None:
    rng = np.random.default_rng(2)
    vecs = unit(rng, 400)
    index = VectorIndex(DIM, MODEL, approx_threshold=300)
    index.add([f"r{i}" for i in range(250)], vecs[:250])
    assert kind(index) == "flat"
    index.add([f"r{i}" for i in range(250, 400)], vecs[250:])
    assert kind(index) == "hnsw"
    nearest = index.search(vecs[:50], k=1)
    assert sum(h[0][0] == f"r{i}" for i, h in enumerate(nearest)) >= 49  # approximate, but not by much

    # HNSW cannot delete: removed ids must vanish from results all the same (tombstones).
    index.remove(["r0", "r1", "r2"])
    assert len(index) == 397
    for row in index.search(vecs[:3], k=5):
        assert not {"r0", "r1", "r2"} & {ref for ref, _ in row}
        assert len(row) == 5

    # Removing past the rebuild fraction rebuilds from the stored vectors; shrinking below the threshold
    # brings back the exact index.
    index.remove([f"r{i}" for i in range(3, 200)])
    assert len(index) == 200
    assert kind(index) == "flat"
    ((ref, score),) = index.search(vecs[[300]], k=1)[0]
    assert ref == "r300" and score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind_threshold", [10_000, 50])
def test_save_and_load_round_trip(tmp_path: Path, kind_threshold: int) -> None:
    rng = np.random.default_rng(3)
    vecs = unit(rng, 80)
    index = VectorIndex(DIM, MODEL, approx_threshold=kind_threshold)
    index.add([f"r{i % 40}" for i in range(80)], vecs)
    index.remove(["r5"])
    path = tmp_path / "idx" / "copy.faiss"
    index.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["copy.faiss"], "no temporary file is left behind"

    loaded = VectorIndex.load(path, MODEL)
    assert loaded.kind == index.kind
    assert loaded.ids() == index.ids() and len(loaded) == len(index)
    assert loaded.search(vecs[:10], k=4) == index.search(vecs[:10], k=4)
    # It keeps working after loading: new labels do not collide with old ones.
    loaded.add(["new"], vecs[5:6])
    assert loaded.search(vecs[5:6], k=1)[0][0][0] == "new"


def test_load_refuses_another_models_index(tmp_path: Path, filled: tuple[VectorIndex, np.ndarray]) -> None:
    index, _ = filled
    index.save(tmp_path / "i.faiss")
    with pytest.raises(IndexModelMismatchError, match="not 'other-model@1'"):
        VectorIndex.load(tmp_path / "i.faiss", "other-model@1")


@pytest.mark.parametrize(
    "damage",
    ["flip_byte", "truncate", "empty", "not_an_index", "missing"],
)
def test_load_refuses_damaged_files(
    tmp_path: Path, filled: tuple[VectorIndex, np.ndarray], damage: str
) -> None:
    index, _ = filled
    path = tmp_path / "i.faiss"
    index.save(path)
    data = path.read_bytes()
    if damage == "flip_byte":
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0x40]) + data[mid + 1 :])
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "not_an_index":
        path.write_bytes(b"PK\x03\x04 a zip file, say" * 10)
    else:
        path.unlink()
    with pytest.raises(IndexCorruptError) as err:
        VectorIndex.load(path, MODEL)
    assert isinstance(err.value, DetectorError)
    assert str(path) in str(err.value)


def test_encrypted_round_trip_and_refusals(tmp_path: Path, filled: tuple[VectorIndex, np.ndarray]) -> None:
    index, vecs = filled
    encrypt, decrypt = aes_pair(AESGCM.generate_key(bit_length=256))
    path = tmp_path / "cameo.faiss"
    index.save(path, encrypt=encrypt)
    raw = path.read_bytes()
    assert MODEL.encode() not in raw and b"ref-1" not in raw, "nothing readable at rest"

    loaded = VectorIndex.load(path, MODEL, decrypt=decrypt)
    assert loaded.search(vecs[:5], k=2) == index.search(vecs[:5], k=2)

    with pytest.raises(IndexCorruptError, match="encrypted and no decrypt"):
        VectorIndex.load(path, MODEL)
    _, wrong = aes_pair(AESGCM.generate_key(bit_length=256))
    with pytest.raises(IndexCorruptError, match="cannot decrypt"):
        VectorIndex.load(path, MODEL, decrypt=wrong)
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(IndexCorruptError, match="cannot decrypt"):
        VectorIndex.load(path, MODEL, decrypt=decrypt)
    index.save(tmp_path / "plain.faiss")
    with pytest.raises(IndexCorruptError, match="not encrypted"):
        VectorIndex.load(tmp_path / "plain.faiss", MODEL, decrypt=decrypt)


def test_index_set_keeps_one_file_per_model_and_loads_lazily(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    encrypt, decrypt = aes_pair(AESGCM.generate_key(bit_length=128))
    indexes = IndexSet(tmp_path, encrypt=encrypt, decrypt=decrypt)
    a = indexes.get("sscd@aaa:sq288", 16)
    b = indexes.get("sscd_distilled@bbb:sq288", 8)
    assert indexes.get("sscd@aaa:sq288", 16) is a
    a.add(["w1"], unit(rng, 1))
    b.add(["w1"], unit(rng, 1, 8))
    indexes.save_all()
    assert len(list(tmp_path.glob("*.faiss"))) == 2
    assert indexes.path_for("a/b") != indexes.path_for("a_b"), "ids that sanitise alike get distinct files"

    again = IndexSet(tmp_path, encrypt=encrypt, decrypt=decrypt)
    assert again.loaded() == []
    assert again.get("sscd@aaa:sq288", 16).ids() == ["w1"]
    assert again.loaded() == ["sscd@aaa:sq288"]
    with pytest.raises(IndexModelMismatchError, match="dimension 8, not 16"):
        again.get("sscd_distilled@bbb:sq288", 16)
    with pytest.raises(IndexCorruptError):
        IndexSet(tmp_path).get("sscd@aaa:sq288", 16)  # encrypted files need the key
    with pytest.raises(ValueError, match="both"):
        IndexSet(tmp_path, encrypt=encrypt)


def test_concurrent_adds_searches_and_removes_stay_consistent() -> None:
    rng = np.random.default_rng(5)
    vecs = unit(rng, 400)
    index = VectorIndex(DIM, MODEL, approx_threshold=150)
    errors: list[BaseException] = []

    def writer(start: int) -> None:
        try:
            for i in range(start, start + 100):
                index.add([f"r{i}"], vecs[i : i + 1])
                if i % 10 == 0:
                    index.remove([f"r{i}"])
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for i in range(200):
                for hits in index.search(vecs[i : i + 1], k=3):
                    assert all(ref.startswith("r") for ref, _ in hits)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (0, 100, 200, 300)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 360
    assert sorted(index.ids()) == sorted(f"r{i}" for i in range(400) if i % 10)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    owners=st.integers(min_value=1, max_value=10),
    k=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_exact_search_agrees_with_brute_force(n: int, owners: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vecs = unit(rng, n)
    ids = [f"id{int(rng.integers(owners))}" for _ in range(n)]
    query = unit(rng, 1)
    index = VectorIndex(DIM, MODEL)
    index.add(ids, vecs)
    (hits,) = index.search(query, k=k)
    sims = (vecs @ query[0]).tolist()
    best: dict[str, float] = {}
    for ref, s in zip(ids, sims, strict=True):
        best[ref] = max(best.get(ref, -2.0), s)
    expected = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[:k]
    assert [ref for ref, _ in hits] == [ref for ref, _ in expected] or np.allclose(
        [s for _, s in hits], [s for _, s in expected], atol=1e-5
    )
    assert np.allclose([s for _, s in hits], [s for _, s in expected], atol=1e-5)
