"""The Merkle tree against RFC 6962's own recursive definitions, CT's known answers, and its verifiers.

The reference below is a transcription of RFC 6962 §2.1 (MTH, PATH, SUBPROOF) over a list of entries,
computing everything from the leaves; the tree under test computes from stored perfect subtrees. They are
compared for every size and index up to a few hundred leaves, and the RFC 9162 verifiers must accept every
proof and refuse every altered one.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.log.merkle import (
    EMPTY_ROOT,
    LogIntegrityError,
    LogRangeError,
    MemoryTreeStore,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

# --- RFC 6962 §2.1, verbatim recursion ------------------------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: tuple[bytes, ...]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


MAX_N = 300
DATA: tuple[bytes, ...] = tuple(hashlib.sha256(str(i).encode()).digest()[: i % 7] for i in range(MAX_N))


@lru_cache(maxsize=1)
def full_tree() -> MerkleTree:
    # Built in uneven batches so that every batch boundary pattern of the frontier code is exercised.
    tree = MerkleTree(MemoryTreeStore())
    i, step = 0, 1
    while i < MAX_N:
        tree.append([leaf_hash(x) for x in DATA[i : i + step]])
        i += step
        step = step % 5 + 1
    return tree


# --- known answers (certificate-transparency's merkle_tree_test vectors) --------------------------------

CT_LEAVES = [
    bytes.fromhex(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _ct_tree() -> MerkleTree:
    tree = MerkleTree(MemoryTreeStore())
    tree.append([leaf_hash(x) for x in CT_LEAVES])
    return tree


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree(MemoryTreeStore()).root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_known_roots(size: int) -> None:
    assert _ct_tree().root(size).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(
    ("index", "size", "expected"),
    [
        (0, 1, []),
        (0, 8, ["96a296d224f285c6", "5f083f0a1a33ca07", "6b47aaf29ee3c2af"]),
        (5, 8, ["bc1a0643b12e4d2d", "ca854ea128ed050b", "d37ee418976dd957"]),
        (2, 3, ["fac54203e7cc696c"]),
        (1, 5, ["6e340b9cffb37a98", "5f083f0a1a33ca07", "bc1a0643b12e4d2d"]),
    ],
)
def test_ct_known_inclusion_paths(index: int, size: int, expected: list[str]) -> None:
    proof = _ct_tree().inclusion_proof(index, size)
    assert [p.hex()[:16] for p in proof.path] == expected
    proof.verify()


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (1, 1, []),
        (1, 8, ["96a296d224f285c6", "5f083f0a1a33ca07", "6b47aaf29ee3c2af"]),
        (6, 8, ["0ebc5d3437fbe2db", "ca854ea128ed050b", "d37ee418976dd957"]),
        (2, 5, ["5f083f0a1a33ca07", "bc1a0643b12e4d2d"]),
    ],
)
def test_ct_known_consistency_proofs(first: int, second: int, expected: list[str]) -> None:
    proof = _ct_tree().consistency_proof(first, second)
    assert [p.hex()[:16] for p in proof.path] == expected
    proof.verify()


# --- against the reference, every size ------------------------------------------------------------------


def test_every_root_up_to_max_matches_reference() -> None:
    tree = full_tree()
    for n in range(MAX_N + 1):
        assert tree.root(n) == mth(DATA[:n]), n


def test_every_proof_up_to_64_matches_reference() -> None:
    tree = full_tree()
    for n in range(1, 65):
        d = DATA[:n]
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert list(proof.path) == path(m, d), (m, n)
            assert proof.leaf_hash == leaf_hash(d[m])
            proof.verify()
        for m in range(1, n + 1):
            cons = tree.consistency_proof(m, n)
            assert list(cons.path) == subproof(m, d, True), (m, n)
            cons.verify()


@settings(max_examples=300, deadline=None, database=None)
@given(st.data())
def test_inclusion_matches_reference(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, MAX_N), label="size")
    m = data.draw(st.integers(0, n - 1), label="index")
    proof = full_tree().inclusion_proof(m, n)
    assert list(proof.path) == path(m, DATA[:n])
    assert proof.root_hash == mth(DATA[:n])
    verify_inclusion(leaf_hash(DATA[m]), m, n, proof.path, mth(DATA[:n]))


@settings(max_examples=300, deadline=None, database=None)
@given(st.data())
def test_consistency_matches_reference(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, MAX_N), label="second")
    m = data.draw(st.integers(1, n), label="first")
    proof = full_tree().consistency_proof(m, n)
    assert list(proof.path) == subproof(m, DATA[:n], True)
    verify_consistency(m, n, proof.path, mth(DATA[:m]), mth(DATA[:n]))


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_batching_does_not_change_the_tree(batches: list[int]) -> None:
    tree = MerkleTree(MemoryTreeStore())
    i = 0
    for b in batches:
        tree.append([leaf_hash(x) for x in DATA[i : i + b]])
        i += b
    assert tree.size() == i
    assert tree.root() == mth(DATA[:i])


# --- the verifiers refuse what is altered ---------------------------------------------------------------


def _flip(b: bytes, i: int) -> bytes:
    return b[:i] + bytes([b[i] ^ 0x01]) + b[i + 1 :]


@settings(max_examples=200, deadline=None, database=None)
@given(st.data())
def test_altered_inclusion_proofs_fail(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX_N))
    m = data.draw(st.integers(0, n - 1))
    proof = full_tree().inclusion_proof(m, n)
    leaf, root, p = proof.leaf_hash, proof.root_hash, list(proof.path)
    # The tree size alone is not a mutation: for leaf 0 the trees of 129 and 130 leaves have the same path
    # shape, so (path, root) fits both. The size is bound to the root by the signed checkpoint instead.
    kind = data.draw(st.sampled_from(["path", "leaf", "root", "index", "drop", "extra"]))
    if kind == "path":
        j = data.draw(st.integers(0, len(p) - 1))
        p[j] = _flip(p[j], data.draw(st.integers(0, 31)))
    elif kind == "leaf":
        leaf = _flip(leaf, 0)
    elif kind == "root":
        root = _flip(root, 31)
    elif kind == "index":
        other = data.draw(st.integers(0, n - 1).filter(lambda x: x != m))
        if leaf_hash(DATA[other]) == leaf:
            return  # equal leaves sit at different indexes: not an alteration
        m = other
    elif kind == "drop":
        p.pop(data.draw(st.integers(0, len(p) - 1)))
    else:
        p.insert(data.draw(st.integers(0, len(p))), hashlib.sha256(b"x").digest())
    with pytest.raises(ProofError):
        verify_inclusion(leaf, m, n, p, root)


@settings(max_examples=200, deadline=None, database=None)
@given(st.data())
def test_altered_consistency_proofs_fail(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX_N))
    m = data.draw(st.integers(1, n - 1))
    proof = full_tree().consistency_proof(m, n)
    r1, r2, p = proof.first_root, proof.second_root, list(proof.path)
    kind = data.draw(st.sampled_from(["path", "first_root", "second_root", "first", "drop", "extra"]))
    if kind == "path":
        j = data.draw(st.integers(0, len(p) - 1))
        p[j] = _flip(p[j], data.draw(st.integers(0, 31)))
    elif kind == "first_root":
        r1 = _flip(r1, 5)
    elif kind == "second_root":
        r2 = _flip(r2, 5)
    elif kind == "first":
        m = data.draw(st.integers(1, n - 1).filter(lambda x: x != m))
    elif kind == "drop":
        p.pop(data.draw(st.integers(0, len(p) - 1)))
    else:
        p.insert(data.draw(st.integers(0, len(p))), hashlib.sha256(b"x").digest())
    with pytest.raises(ProofError):
        verify_consistency(m, n, p, r1, r2)


def test_verifier_messages() -> None:
    tree = full_tree()
    proof = tree.inclusion_proof(3, 10)
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(proof.leaf_hash, 10, 10, proof.path, proof.root_hash)
    with pytest.raises(ProofError, match="shorter than the tree is deep"):
        verify_inclusion(proof.leaf_hash, 3, 10, proof.path[:-1], proof.root_hash)
    with pytest.raises(ProofError, match="must be 32 bytes"):
        verify_inclusion(proof.leaf_hash[:31], 3, 10, proof.path, proof.root_hash)
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(proof.leaf_hash, 3, 10, proof.path, EMPTY_ROOT)
    cons = tree.consistency_proof(4, 10)
    with pytest.raises(ProofError, match="consistency path is empty"):
        verify_consistency(4, 10, [], cons.first_root, cons.second_root)
    with pytest.raises(ProofError, match="sizes are equal but the roots differ"):
        verify_consistency(10, 10, [], cons.first_root, cons.second_root)
    with pytest.raises(ProofError, match="not within"):
        verify_consistency(11, 10, cons.path, cons.first_root, cons.second_root)
    verify_consistency(0, 10, [], EMPTY_ROOT, cons.second_root)  # every tree extends the empty one
    with pytest.raises(ProofError, match="first tree is empty"):
        verify_consistency(0, 10, cons.path, EMPTY_ROOT, cons.second_root)


def test_out_of_range_requests_are_range_errors() -> None:
    tree = full_tree()
    with pytest.raises(LogRangeError, match=r"tree size 301 is outside the log \(0\.\.300\)"):
        tree.root(301)
    with pytest.raises(LogRangeError, match="leaf index 5 is outside the tree of size 5"):
        tree.inclusion_proof(5, 5)
    with pytest.raises(LogRangeError, match="leaf index -1"):
        tree.inclusion_proof(-1, 5)
    with pytest.raises(LogRangeError, match=r"first size 6 is outside 0\.\.5"):
        tree.consistency_proof(6, 5)
    assert isinstance(LogRangeError("x"), ValueError)


def test_store_refuses_out_of_order_nodes_and_missing_nodes_are_integrity_errors() -> None:
    store = MemoryTreeStore()
    with pytest.raises(LogIntegrityError, match="out of order"):
        store.put_nodes([(0, 1, EMPTY_ROOT)])
    store.put_nodes([(0, 0, EMPTY_ROOT)])
    store.set_size(2)  # a size the nodes do not back
    with pytest.raises(LogIntegrityError, match="lacks"):
        MerkleTree(store).root(2)
