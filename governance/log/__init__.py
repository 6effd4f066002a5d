"""The signed, verifiable log: an RFC 6962 Merkle tree of canonical-JSON entries with signed checkpoints.

Modules, lowest first: ``merkle`` (tree, proofs, verifiers), ``canonical`` (the entry model and its
bytes), ``keys`` (Ed25519 key ring), ``note`` (signed checkpoint notes), ``tables`` and ``store`` (the
database side), ``service`` (:class:`SignedLog`, what the API calls) and ``export`` (export and offline
verification). The names below are the public surface.
"""

from governance.log.canonical import (
    ENTRY_TYPES,
    CanonicalEntryError,
    EntryType,
    LogEntry,
    canonical_json,
    entry_bytes,
)
from governance.log.export import ExportResult, ExportVerificationError, VerifyResult, export, verify_export
from governance.log.keys import KeyRing, KeyRingError, PublicKey, SigningKey
from governance.log.merkle import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    LogIntegrityError,
    LogRangeError,
    MemoryTreeStore,
    MerkleTree,
    ProofError,
    TreeStore,
    VerificationError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from governance.log.note import NoteFormatError, SignatureError, sign_checkpoint, verify_checkpoint
from governance.log.service import (
    BiometricEvidenceError,
    Checkpoint,
    LogPublicKey,
    ReservedEntryTypeError,
    SignedLog,
    StoredEntry,
)
from governance.log.store import SqlTreeStore

__all__ = [
    "EMPTY_ROOT",
    "ENTRY_TYPES",
    "BiometricEvidenceError",
    "CanonicalEntryError",
    "Checkpoint",
    "ConsistencyProof",
    "EntryType",
    "ExportResult",
    "ExportVerificationError",
    "InclusionProof",
    "KeyRing",
    "KeyRingError",
    "LogEntry",
    "LogIntegrityError",
    "LogPublicKey",
    "LogRangeError",
    "MemoryTreeStore",
    "MerkleTree",
    "NoteFormatError",
    "ProofError",
    "PublicKey",
    "ReservedEntryTypeError",
    "SignatureError",
    "SignedLog",
    "SigningKey",
    "SqlTreeStore",
    "StoredEntry",
    "TreeStore",
    "VerificationError",
    "VerifyResult",
    "canonical_json",
    "entry_bytes",
    "export",
    "leaf_hash",
    "node_hash",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
]
