"""Signed notes and checkpoints: Go's example note, round trips, and every malformed input we can think of."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization

from governance.log import note as note_module
from governance.log.keys import KeyRing, PublicKey
from governance.log.merkle import EMPTY_ROOT, VerificationError
from governance.log.note import (
    NoteFormatError,
    SignatureError,
    format_checkpoint,
    parse_checkpoint,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from tests.governance.log.test_keys import GO_SIG, GO_TEXT, GO_VKEY, _go_private

ORIGIN = "rightsgate.test/log"
ROOT = bytes(range(32))


def test_go_example_note_parses_and_verifies() -> None:
    text = GO_TEXT.decode() + "\n\u2014 PeterNeumann " + GO_SIG + "\n"
    parsed = parse_note(text)
    assert parsed.text == GO_TEXT
    (sig,) = parsed.signatures
    assert (sig.name, sig.key_hash.hex(), sig.line) == ("PeterNeumann", "c74f20a3", 4)
    raw = base64.b64decode(GO_VKEY.split("+")[2])[1:]
    assert note_module.verify_signature(parsed.text, sig, raw)
    # and our signer writes the very same note
    private = _go_private()
    pub = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    class _GoSigner:
        public = PublicKey("PeterNeumann", pub)

        def sign(self, message: bytes) -> bytes:
            return private.sign(message)

    assert sign_note(GO_TEXT, [_GoSigner()]) == text  # type: ignore[list-item]


def test_checkpoint_round_trip(make_keyring: Callable[..., KeyRing]) -> None:
    key = make_keyring().current()
    text = sign_checkpoint(ORIGIN, 42, ROOT, [key])
    assert text.startswith(f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} ")
    verified = verify_checkpoint(text, [key.public.raw], origin=ORIGIN)
    assert verified.body.tree_size == 42
    assert verified.body.root_hash == ROOT
    assert verified.verified_by == (key.public.raw,)
    assert verify_checkpoint(text, [key.public]).body.origin == ORIGIN
    assert parse_checkpoint(format_checkpoint(ORIGIN, 0, EMPTY_ROOT)).tree_size == 0


def test_checkpoint_extension_lines_are_kept_and_signed(make_keyring: Callable[..., KeyRing]) -> None:
    key = make_keyring().current()
    body = format_checkpoint(ORIGIN, 7, ROOT) + b"ext one\n"
    verified = verify_checkpoint(sign_note(body, [key]), [key.public.raw])
    assert verified.body.extensions == ("ext one",)


def _good(make_keyring: Callable[..., KeyRing]) -> tuple[str, bytes]:
    key = make_keyring().current()
    return sign_checkpoint(ORIGIN, 42, ROOT, [key]), key.public.raw


def _sig_line(text: str) -> str:
    return text.split("\n\n", 1)[1]


MALFORMED: list[tuple[str, Callable[[str], str | bytes], str]] = [
    ("no blank line", lambda t: t.replace("\n\n", "\n"), "no blank line between body and signatures"),
    ("no signatures", lambda t: t.split("\n\n")[0] + "\n\n", "no signature lines"),
    ("no final newline", lambda t: t[:-1], "does not end with a newline"),
    ("hyphen not em dash", lambda t: t.replace("\u2014 ", "- "), "does not start with an em dash"),
    ("en dash", lambda t: t.replace("\u2014", "\u2013"), "does not start with an em dash"),
    (
        "no space after name",
        lambda t: t.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}"),
        "signature line is not",
    ),
    (
        "empty base64",
        lambda t: t.split(f"\u2014 {ORIGIN} ")[0] + f"\u2014 {ORIGIN} \n",
        "signature line is not",
    ),
    ("bad base64", lambda t: t.replace(f"{ORIGIN} ", f"{ORIGIN} !"), "signature is not valid base64"),
    ("base64 without padding", lambda t: t.replace("=\n", "\n"), "not valid base64"),
    ("short signature", lambda t: t.split(f"\u2014 {ORIGIN} ")[0] + f"\u2014 {ORIGIN} AAAA\n", "too short"),
    ("name with plus", lambda t: t.replace(f"\u2014 {ORIGIN}", "\u2014 a+b"), "invalid key name"),
    ("control character", lambda t: t.replace("42\n", "4\x072\n"), "control character U\\+0007"),
    ("carriage return", lambda t: t.replace("\n", "\r\n"), "control character U\\+000D"),
    ("invalid UTF-8", lambda t: t.encode().replace(b"42", b"4\xff"), "not valid UTF-8"),
    ("duplicate signature", lambda t: t + _sig_line(t), "second signature by key"),
    ("size with leading zero", lambda t: t.replace("\n42\n", "\n042\n"), "'042' is not a decimal number"),
    ("size negative", lambda t: t.replace("\n42\n", "\n-42\n"), "'-42' is not a decimal number"),
    ("size with plus", lambda t: t.replace("\n42\n", "\n+42\n"), "is not a decimal number"),
    ("size not ascii digits", lambda t: t.replace("\n42\n", "\n\u0664\u0662\n"), "is not a decimal number"),
    ("two body lines", lambda t: t.replace("\n42\n", "\n"), "has 2 lines"),
    (
        "short root hash",
        lambda t: t.replace(base64.b64encode(ROOT).decode(), base64.b64encode(ROOT[:31]).decode()),
        "is 31 bytes, expected 32",
    ),
    (
        "non-canonical root base64",
        # the last character before '=' carries 2 padding bits: 'E' -> 'F' decodes to the same 32 bytes
        lambda t: t.replace(base64.b64encode(ROOT).decode(), base64.b64encode(ROOT).decode()[:-2] + "9="),
        "root hash \\(line 3\\) is not canonical base64",
    ),
    ("empty origin", lambda t: t[t.index("\n") :], "origin \\(line 1\\) is empty"),
    (
        "empty extension line",
        lambda t: t.replace(
            base64.b64encode(ROOT).decode() + "\n", base64.b64encode(ROOT).decode() + "\n\next\n", 1
        ),
        "extension line 4 is empty",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [(m, msg) for _, m, msg in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_checkpoints_are_refused(
    make_keyring: Callable[..., KeyRing], mutate: Callable[[str], str | bytes], message: str
) -> None:
    text, raw = _good(make_keyring)
    with pytest.raises(VerificationError, match=message):
        verify_checkpoint(mutate(text), [raw])


def test_non_canonical_root_base64_decodes_to_the_same_bytes() -> None:
    # What the test above relies on: without the canonical check this change would go unnoticed.
    encoded = base64.b64encode(ROOT).decode()
    assert encoded[-2:] == "8="
    assert base64.b64decode(encoded[:-2] + "9=") == ROOT


def test_signature_errors(make_keyring: Callable[..., KeyRing]) -> None:
    text, raw = _good(make_keyring)
    other = make_keyring().current()
    with pytest.raises(SignatureError, match=f"no signature by a trusted key \\(signed by {ORIGIN}\\+"):
        verify_checkpoint(text, [other.public.raw])
    tampered = text.replace("\n42\n", "\n43\n")
    with pytest.raises(SignatureError, match=r"line 5: signature by key .* does not verify"):
        verify_checkpoint(tampered, [raw])
    with pytest.raises(
        NoteFormatError, match=r"checkpoint origin 'rightsgate\.test/log' is not the expected 'x'"
    ):
        verify_checkpoint(text, [raw], origin="x")


def test_unknown_signers_are_ignored_but_a_known_bad_one_fails(make_keyring: Callable[..., KeyRing]) -> None:
    a, b = make_keyring().current(), make_keyring().current()
    both = sign_checkpoint(ORIGIN, 3, ROOT, [a, b])
    assert verify_checkpoint(both, [a.public.raw]).verified_by == (a.public.raw,)
    lines = both.split("\n")
    sig_b = lines[5]
    blob = bytearray(base64.b64decode(sig_b.split(" ")[2]))
    blob[10] ^= 1
    lines[5] = f"\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}"
    broken = "\n".join(lines)
    assert verify_checkpoint(broken, [a.public.raw]).verified_by == (a.public.raw,)
    with pytest.raises(SignatureError, match=r"line 6: signature by key .* does not verify"):
        verify_checkpoint(broken, [a.public.raw, b.public.raw])


def test_a_key_hash_is_only_a_hint(
    make_keyring: Callable[..., KeyRing], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force every key to share one hash: the verifier must try each candidate, not stop at the first.
    monkeypatch.setattr(note_module, "key_hash", lambda name, raw: b"\0\0\0\0")
    a, b = make_keyring().current(), make_keyring().current()
    body = format_checkpoint(ORIGIN, 1, ROOT)
    blob = base64.b64encode(bytes(4) + b.sign(body)).decode()
    text = f"{body.decode()}\n\u2014 {ORIGIN} {blob}\n"
    assert verify_checkpoint(text, [a.public.raw, b.public.raw]).verified_by == (b.public.raw,)


def test_sign_note_refuses_bad_text(make_keyring: Callable[..., KeyRing]) -> None:
    key = make_keyring().current()
    with pytest.raises(ValueError, match="end in a newline"):
        sign_note("no newline", [key])
    with pytest.raises(ValueError, match="at least one signer"):
        sign_note("x\n", [])
    with pytest.raises(ValueError, match="invalid origin"):
        format_checkpoint("two\nlines", 1, ROOT)
