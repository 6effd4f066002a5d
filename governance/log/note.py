"""Signed checkpoints as text: the signed-note format (Go ``sumdb/note``) carrying a C2SP tlog-checkpoint.

A checkpoint note looks like this (``—`` is U+2014 EM DASH followed by a space)::

    rightsgate.example/log
    42
    qDQmO6eXyBSzBCu3WkkdEnyMkjeSxUXsxiz8NxTeZPc=

    — rightsgate.example/log Az3grlh0/5mH...base64(4-byte key hash || 64-byte Ed25519 signature)...

The body is ``<origin>\\n<tree size in decimal>\\n<base64 root hash>\\n`` (C2SP allows further non-empty
extension lines, which are kept and signed like the rest); the signature is over the body bytes. Parsing
is strict, as in sigstore's ``checkpoint.py`` and Go's ``note.Open``: every deviation raises a
:class:`NoteFormatError` (a :class:`VerificationError`) saying what is wrong, and base64 must be the
canonical encoding, so that no byte of a note can change without the note being refused or its signature
failing. A key hash only *selects* candidate keys; every key whose hash matches is tried.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from governance.log.keys import PublicKey, SigningKey, check_key_name, key_hash
from governance.log.merkle import HASH_SIZE, VerificationError

__all__ = [
    "SIGNATURE_PREFIX",
    "CheckpointBody",
    "NoteFormatError",
    "NoteSignature",
    "SignatureError",
    "SignedNote",
    "VerifiedCheckpoint",
    "format_checkpoint",
    "matching_keys",
    "parse_checkpoint",
    "parse_note",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "verify_signature",
]

SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
_DECIMAL = re.compile(r"\A(?:0|[1-9][0-9]{0,18})\Z")
_ED25519_SIG = 64


class NoteFormatError(VerificationError):
    """The text is not a well-formed signed note or checkpoint."""


class SignatureError(VerificationError):
    """A signature is missing, made by an unknown key, or does not verify."""


def _b64decode_canonical(value: str, what: str) -> bytes:
    # Standard base64 with padding, and nothing that decodes to the same bytes in another spelling
    # (non-zero padding bits would let a byte of the note change without any effect).
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteFormatError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise NoteFormatError(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key hash (a hint) and the signature bytes."""

    name: str
    key_hash: bytes
    signature: bytes
    line: int
    """1-based line number of the signature in the note (for messages)."""

    @property
    def key_label(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}"


@dataclass(frozen=True)
class SignedNote:
    text: bytes
    """The signed body, ending in a newline."""
    signatures: tuple[NoteSignature, ...]


def parse_note(data: bytes | str) -> SignedNote:
    """Split a signed note into its body and signature lines; :class:`NoteFormatError` if malformed."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_NOTE_BYTES:
        raise NoteFormatError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteFormatError(f"note is not valid UTF-8 (byte {exc.start})") from exc
    for pos, ch in enumerate(text):
        if (ch < " " and ch != "\n") or ch == "\x7f":
            raise NoteFormatError(f"note contains control character U+{ord(ch):04X} at character {pos}")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteFormatError("note has no blank line between body and signatures")
    body, sigs = text[: split + 1], text[split + 2 :]
    if not sigs:
        raise NoteFormatError("note has no signature lines")
    if not sigs.endswith("\n"):
        raise NoteFormatError("note does not end with a newline")
    body_lines = body.count("\n")
    signatures: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for offset, line in enumerate(sigs[:-1].split("\n")):
        lineno = body_lines + 2 + offset
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteFormatError(f"line {lineno}: signature line does not start with an em dash and a space")
        rest = line[len(SIGNATURE_PREFIX) :]
        name, sep, encoded = rest.partition(" ")
        if not sep or not encoded:
            raise NoteFormatError(f"line {lineno}: signature line is not '— <key name> <base64>'")
        try:
            check_key_name(name)
        except ValueError as exc:
            raise NoteFormatError(f"line {lineno}: {exc}") from exc
        blob = _b64decode_canonical(encoded, f"line {lineno}: signature")
        if len(blob) < 5:
            raise NoteFormatError(f"line {lineno}: signature is too short ({len(blob)} bytes)")
        sig = NoteSignature(name, blob[:4], blob[4:], lineno)
        if (name, sig.key_hash) in seen:
            raise NoteFormatError(f"line {lineno}: second signature by key {sig.key_label}")
        seen.add((name, sig.key_hash))
        signatures.append(sig)
        if len(signatures) > MAX_SIGNATURES:
            raise NoteFormatError(f"note has more than {MAX_SIGNATURES} signatures")
    return SignedNote(body.encode("utf-8"), tuple(signatures))


def sign_note(text: bytes | str, signers: Sequence[SigningKey]) -> str:
    """A signed note of ``text`` (which must end in a newline) with one signature line per signer."""
    body = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if not signers:
        raise ValueError("a note needs at least one signer")
    if not body.endswith(b"\n") or b"\n\n" in body:
        raise ValueError("note text must end in a newline and contain no blank line")
    lines = []
    for signer in signers:
        blob = signer.public.key_hash + signer.sign(body)
        lines.append(f"{SIGNATURE_PREFIX}{signer.public.name} {base64.b64encode(blob).decode()}\n")
    return body.decode("utf-8") + "\n" + "".join(lines)


def matching_keys(sig: NoteSignature, keys: Iterable[PublicKey | bytes]) -> list[bytes]:
    """Raw public keys among ``keys`` that the signature line's name and hash point at.

    A :class:`PublicKey` must also carry the line's name; a bare 32-byte key matches under whatever name
    the line gives, since the hash binds the name to the key.
    """
    out: list[bytes] = []
    for key in keys:
        if isinstance(key, PublicKey):
            if key.name == sig.name and key.key_hash == sig.key_hash:
                out.append(key.raw)
        elif len(key) == 32 and key_hash(sig.name, key) == sig.key_hash:
            out.append(bytes(key))
    return out


def verify_signature(text: bytes, sig: NoteSignature, public_raw: bytes) -> bool:
    """Whether ``sig`` is an Ed25519 signature of ``text`` by ``public_raw`` under its name and hash."""
    if len(sig.signature) != _ED25519_SIG or key_hash(sig.name, public_raw) != sig.key_hash:
        return False
    return PublicKey(sig.name, public_raw).verify(sig.signature, text)


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(origin: str, tree_size: int, root_hash: bytes) -> bytes:
    """The C2SP checkpoint body for a tree state."""
    if not origin or "\n" in origin or not origin.isprintable():
        raise ValueError(f"invalid origin {origin!r}")
    if tree_size < 0 or len(root_hash) != HASH_SIZE:
        raise ValueError("tree size must be >= 0 and the root hash 32 bytes")
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n".encode()


def parse_checkpoint(text: bytes) -> CheckpointBody:
    """Parse a checkpoint body (the note text); :class:`NoteFormatError` if malformed."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteFormatError("checkpoint body is not UTF-8") from exc
    if not decoded.endswith("\n"):
        raise NoteFormatError("checkpoint body does not end with a newline")
    lines = decoded[:-1].split("\n")
    if len(lines) < 3:
        raise NoteFormatError(f"checkpoint body has {len(lines)} lines, expected origin, size and root hash")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise NoteFormatError("checkpoint origin (line 1) is empty")
    if not _DECIMAL.match(size_line):
        raise NoteFormatError(f"checkpoint tree size (line 2) {size_line!r} is not a decimal number")
    root = _b64decode_canonical(root_line, "checkpoint root hash (line 3)")
    if len(root) != HASH_SIZE:
        raise NoteFormatError(f"checkpoint root hash (line 3) is {len(root)} bytes, expected {HASH_SIZE}")
    for i, ext in enumerate(extensions, start=4):
        if not ext:
            raise NoteFormatError(f"checkpoint extension line {i} is empty")
    return CheckpointBody(origin, int(size_line), root, tuple(extensions))


def sign_checkpoint(origin: str, tree_size: int, root_hash: bytes, signers: Sequence[SigningKey]) -> str:
    """A signed checkpoint note."""
    return sign_note(format_checkpoint(origin, tree_size, root_hash), signers)


@dataclass(frozen=True)
class VerifiedCheckpoint:
    body: CheckpointBody
    note: SignedNote
    verified_by: tuple[bytes, ...]
    """Raw public keys whose signatures verified."""


def verify_checkpoint(
    data: bytes | str, trusted: Sequence[PublicKey | bytes], *, origin: str | None = None
) -> VerifiedCheckpoint:
    """Parse a checkpoint note and check it is signed by at least one of ``trusted``.

    As in Go's ``note.Open``: signatures by keys not in ``trusted`` are ignored, but a signature that points
    at a trusted key and does not verify is an error (rather than silently skipped).
    """
    note = parse_note(data)
    body = parse_checkpoint(note.text)
    if origin is not None and body.origin != origin:
        raise NoteFormatError(f"checkpoint origin {body.origin!r} is not the expected {origin!r}")
    verified: list[bytes] = []
    for sig in note.signatures:
        candidates = matching_keys(sig, trusted)
        if not candidates:
            continue
        good = [raw for raw in candidates if verify_signature(note.text, sig, raw)]
        if not good:
            raise SignatureError(f"line {sig.line}: signature by key {sig.key_label} does not verify")
        verified.extend(good)
    if not verified:
        labels = ", ".join(s.key_label for s in note.signatures)
        raise SignatureError(f"no signature by a trusted key (signed by {labels})")
    return VerifiedCheckpoint(body, note, tuple(verified))
