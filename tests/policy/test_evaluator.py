"""The evaluator against the default policy (every rule, every precedence case) and fail-closed inputs."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policy.evaluator import covers, evaluate
from policy.permissions import CameoUseContext, decide_cameo_use
from policy.schema import Policy, parse_policy
from policy.types import CheckRequest, DetectorFailure, PolicyFinding

DEFAULT = Path(__file__).resolve().parents[2] / "policies.yaml"


def pinned(text: str) -> str:
    """The default rules at fixed thresholds (copyright 0.75/0.55, faces 0.6/0.5), so these cases test the
    rules and their precedence, not the calibration, which bench/accuracy.py owns and may move."""
    for section, key, value in (
        ("copyright", "block_threshold", "0.75"),
        ("copyright", "review_threshold", "0.55"),
        ("faces", "match_threshold", "0.6"),
        ("faces", "review_threshold", "0.5"),
    ):
        text, n = re.subn(rf"(?m)^({section}:\n(?:[ #].*\n|\n)*?  {key}: )[0-9.]+", rf"\g<1>{value}", text)
        assert n == 1, (section, key)
    return text


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(pinned(DEFAULT.read_text()), "policies.yaml (pinned thresholds)")


US = CheckRequest(requester="bob", requester_known=True, territory="US", prompt="a video")
NOWHERE = dataclasses.replace(US, territory=None)


def work(
    score: float, mode: str = "opt_out", terr: tuple[str, ...] = ("*",), t: float = 4.0
) -> PolicyFinding:
    return PolicyFinding(
        kind="copyright",
        score=score,
        ref_id="w-bbb",
        ref_name="Big Buck Bunny",
        t=t,
        work_mode=mode,
        work_territories=terr,
    )


def cameo(score: float, code: str, t: float = 2.0) -> PolicyFinding:
    allowed = code in {"owner", "granted", "mutuals", "visibility_everyone"}
    return PolicyFinding(
        kind="cameo",
        score=score,
        ref_id="c-alice",
        ref_name="alice",
        t=t,
        box=(10, 20, 64, 64),
        permitted=allowed,
        permission_code=code,
        permission_reason=f"because {code}",
    )


def prompt_work(mode: str = "opt_out", terr: tuple[str, ...] = ("*",)) -> PolicyFinding:
    return PolicyFinding(
        kind="prompt",
        score=0.95,
        ref_id="w-hp",
        ref_name="Harry Potter",
        work_mode=mode,
        work_territories=terr,
        prompt_match_type="work_name",
        detail="Гарри Поттер",
    )


def prompt_mention(code: str) -> PolicyFinding:
    return dataclasses.replace(
        cameo(1.0, code), kind="prompt", t=None, box=None, prompt_match_type="cameo_mention"
    )


@dataclass
class Case:
    name: str
    findings: list[PolicyFinding]
    action: str
    rules: tuple[str, ...]
    request: CheckRequest = US
    failures: list[DetectorFailure] = field(default_factory=list)


CASES = [
    # nothing at all
    Case("no findings", [], "allow", ()),
    # copyright: block threshold 0.75, review 0.55, territories
    Case("opt-out copy", [work(0.80)], "block", ("copyright-optout-block",)),
    Case("opt-out copy at exactly block", [work(0.75)], "block", ("copyright-optout-block",)),
    Case("opt-out near miss just below block", [work(0.7499)], "review", ("copyright-optout-near-miss",)),
    Case("opt-out near miss at review", [work(0.55)], "review", ("copyright-optout-near-miss",)),
    Case("opt-out below review", [work(0.5499)], "allow", ()),
    Case("opt-out copy outside territory", [work(0.9, terr=("FR", "DE"))], "allow", ()),
    Case(
        "opt-out copy inside territory", [work(0.9, terr=("FR", "US"))], "block", ("copyright-optout-block",)
    ),
    Case("empty territories mean everywhere", [work(0.9, terr=())], "block", ("copyright-optout-block",)),
    Case(
        "unknown request territory counts as covered",
        [work(0.9, terr=("FR",))],
        "block",
        ("copyright-optout-block",),
        request=NOWHERE,
    ),
    Case("licensed use", [work(0.9, mode="licensed")], "allow", ("copyright-licensed-attribution",)),
    Case("licensed below review", [work(0.3, mode="licensed")], "allow", ()),
    # cameos: match 0.6, review 0.5
    Case("own cameo", [cameo(0.9, "owner")], "allow", ()),
    Case("granted cameo", [cameo(0.9, "granted")], "allow", ()),
    Case("unpermitted cameo", [cameo(0.6, "not_permitted")], "block", ("cameo-not-permitted",)),
    Case("deleted cameo", [cameo(0.8, "cameo_inactive")], "block", ("cameo-not-permitted",)),
    Case(
        "restricted cameo",
        [cameo(0.8, "restricted:political")],
        "block",
        ("cameo-not-permitted", "cameo-restricted-content"),
    ),
    Case("possible unpermitted cameo", [cameo(0.55, "not_permitted")], "review", ("cameo-possible-match",)),
    Case("possible restricted cameo", [cameo(0.5, "restricted:sexual")], "review", ("cameo-possible-match",)),
    Case("weak face match", [cameo(0.49, "not_permitted")], "allow", ()),
    Case("possible permitted cameo", [cameo(0.55, "mutuals")], "allow", ()),
    # prompt text
    Case("prompt names opt-out work", [prompt_work()], "block", ("prompt-names-optout-work",)),
    Case("prompt names licensed work", [prompt_work(mode="licensed")], "allow", ()),
    Case("prompt names work protected elsewhere", [prompt_work(terr=("JP",))], "allow", ()),
    Case(
        "prompt mentions unpermitted cameo",
        [prompt_mention("not_permitted")],
        "block",
        ("prompt-mentions-unpermitted-cameo",),
    ),
    Case("prompt mentions permitted cameo", [prompt_mention("visibility_everyone")], "allow", ()),
    # precedence
    Case(
        "review beats allow",
        [work(0.9, mode="licensed"), work(0.6)],
        "review",
        ("copyright-optout-near-miss", "copyright-licensed-attribution"),
    ),
    Case(
        "block beats review",
        [work(0.6), work(0.8, t=9.0)],
        "block",
        ("copyright-optout-block", "copyright-optout-near-miss"),
    ),
    Case(
        "block beats allow",
        [work(0.9, mode="licensed"), cameo(0.9, "not_permitted")],
        "block",
        ("copyright-licensed-attribution", "cameo-not-permitted"),
    ),
    Case(
        "failure beats allow",
        [work(0.9, mode="licensed")],
        "block",
        ("copyright-licensed-attribution",),
        failures=[DetectorFailure("faces", "model 'dlib_resnet' is not available")],
    ),
    Case(
        "failure alone",
        [],
        "block",
        (),
        failures=[DetectorFailure("copyright", "index unreadable")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_default_policy(policy: Policy, case: Case) -> None:
    decision = evaluate(policy, case.request, case.findings, case.failures)
    assert decision.action == case.action
    assert decision.rule_ids == case.rules
    assert len(decision.reasons) == len(case.rules) + len(case.failures)
    assert decision.policy_digest == policy.digest
    assert decision.default_applied == (not case.rules and not case.failures)
    # Every fired rule lists the findings it matched, and only findings of its kind.
    for rule_id, indices in decision.fired.items():
        assert indices, rule_id
        assert all(0 <= i < len(case.findings) for i in indices)


def test_every_default_rule_is_exercised(policy: Policy) -> None:
    fired = {r for c in CASES for r in c.rules}
    assert fired == {r.id for r in policy.rules}


def test_fired_indices_and_reasons(policy: Policy) -> None:
    findings = [work(0.3), cameo(0.9, "owner"), work(0.81, t=12.5), work(0.6, t=1.0)]
    decision = evaluate(policy, US, findings)
    assert decision.fired == {"copyright-optout-block": (2,), "copyright-optout-near-miss": (3,)}
    block_reason = decision.reasons[0]
    assert "copyright-optout-block" in block_reason
    assert "'Big Buck Bunny' (w-bbb)" in block_reason
    assert "0.810" in block_reason and "t=12.50s" in block_reason and "score ≥ 0.75" in block_reason


def test_cameo_reason_carries_permission_reason_and_box(policy: Policy) -> None:
    decision = evaluate(policy, US, [cameo(0.7, "not_permitted")])
    assert "because not_permitted" in decision.reasons[0]
    assert "[10, 20, 64, 64]" in decision.reasons[0]


def test_attribution_recorded(policy: Policy) -> None:
    findings = [work(0.9, mode="licensed", t=1.0), work(0.8, mode="licensed", t=2.0)]
    decision = evaluate(policy, US, findings)
    assert decision.action == "allow"
    (attribution,) = decision.attributions
    assert attribution.rule_id == "copyright-licensed-attribution"
    assert (attribution.ref_id, attribution.ref_name, attribution.finding_indices) == (
        "w-bbb",
        "Big Buck Bunny",
        (0, 1),
    )


def test_with_real_permission_function(policy: Policy) -> None:
    """The cameo path end to end: decide_cameo_use feeds the finding, the policy judges it."""
    ctx = CameoUseContext(
        owner="alice",
        requester="bob",
        visibility="everyone",
        restrictions=frozenset({"political"}),
        content_tags=frozenset({"political"}),
    )
    permission = decide_cameo_use(ctx)
    finding = PolicyFinding(
        kind="cameo",
        score=0.8,
        ref_id="c-alice",
        permitted=permission.allowed,
        permission_code=permission.code,
        permission_reason=permission.reason,
    )
    decision = evaluate(policy, dataclasses.replace(US, content_tags=frozenset({"political"})), [finding])
    assert decision.action == "block"
    assert "cameo-restricted-content" in decision.rule_ids
    assert "alice forbids political content" in decision.reasons[1]


# --- fail closed --------------------------------------------------------------------------------------------

BAD_FINDINGS = [
    ("unknown kind", PolicyFinding(kind="trademark", score=0.9, ref_id="x"), "unknown kind 'trademark'"),
    ("no score", dataclasses.replace(work(0.9), score=None), "no usable score"),
    ("NaN score", dataclasses.replace(work(0.9), score=float("nan")), "no usable score"),
    ("bool score", dataclasses.replace(work(0.9), score=True), "no usable score"),
    ("no ref", dataclasses.replace(work(0.9), ref_id=None), "does not say which"),
    ("no work mode", dataclasses.replace(work(0.9, mode="licensed"), work_mode=None), "no valid work_mode"),
    ("bad work mode", work(0.9, mode="public_domain"), "no valid work_mode"),
    ("no territories", dataclasses.replace(work(0.9), work_territories=None), "no work_territories"),
    ("no permission", dataclasses.replace(cameo(0.9, "owner"), permitted=None), "no permission decision"),
    (
        "unknown code",
        dataclasses.replace(cameo(0.9, "owner"), permission_code="vip"),
        "unknown permission code",
    ),
    ("contradicting code", dataclasses.replace(cameo(0.9, "owner"), permitted=False), "contradicts code"),
    (
        "prompt no match type",
        dataclasses.replace(prompt_work(), prompt_match_type=None),
        "unknown match type",
    ),
    ("prompt work no mode", dataclasses.replace(prompt_work(), work_mode=None), "no valid work_mode"),
    (
        "prompt mention no permission",
        dataclasses.replace(prompt_mention("granted"), permitted=None),
        "no permission decision",
    ),
]


@pytest.mark.parametrize(("name", "finding", "message"), BAD_FINDINGS, ids=[b[0] for b in BAD_FINDINGS])
def test_unjudgeable_finding_fails_closed(
    policy: Policy, name: str, finding: PolicyFinding, message: str
) -> None:
    decision = evaluate(policy, US, [finding])
    assert decision.action == "block"
    assert decision.rule_ids == ()
    assert len(decision.errors) == 1 and message in decision.errors[0]
    assert "finding #0" in decision.reasons[0]


def test_wrong_object_as_finding_fails_closed(policy: Policy) -> None:
    decision = evaluate(policy, US, [{"kind": "copyright", "score": 0.1}])  # type: ignore[list-item]
    assert decision.action == "block"
    assert "not a PolicyFinding" in decision.errors[0]


def small_policy(extra: str = "", rules: str | None = None) -> Policy:
    rules = (
        rules
        or """
      - id: licensed
        description: licensed works are fine
        when: {kind: copyright, work_mode: licensed, score_at_least: review}
        action: allow
      - id: near
        description: near misses
        when: {kind: copyright, work_mode: opt_out, score_at_least: review, score_below: block}
        action: review
    """
    )
    return parse_policy("version: 1\n" + extra + "rules:\n" + textwrap.dedent(rules).strip("\n") + "\n")


def test_on_detector_error_review() -> None:
    policy = small_policy("on_detector_error: review\n")
    failure = [DetectorFailure("copyright", "missing model")]
    assert evaluate(policy, US, [], failure).action == "review"
    assert evaluate(policy, US, [work(0.9, mode="licensed")], failure).action == "review"
    decision = evaluate(policy, US, [work(0.6)], failure)
    assert decision.action == "review"
    assert "detector 'copyright' failed: missing model" in decision.errors[0]
    assert evaluate(policy, US, [], []).action == "allow"


def test_default_action_applies_only_without_failures() -> None:
    assert evaluate(small_policy("default_action: review\n"), US, []).action == "review"
    blocked = evaluate(small_policy("default_action: block\n"), US, [])
    assert blocked.action == "block" and blocked.default_applied
    # An allow rule firing overrides the default (it is an explicit answer).
    assert (
        evaluate(small_policy("default_action: review\n"), US, [work(0.9, mode="licensed")]).action == "allow"
    )


REQUEST_RULES = """
  - id: anonymous
    description: unknown requesters go to review
    when: {requester: unknown}
    action: review
  - id: embargo
    description: nothing for these territories
    when: {territory_in: [KP, IR]}
    action: block
  - id: elsewhere-news
    description: news outside the EU needs a look
    when: {territory_not_in: [FR, DE], content_tags_any: [news]}
    action: review
  - id: prompt-restricted-mention
    description: mentions of restricted cameos
    when: {kind: prompt, permission_code: ["restricted:*"]}
    action: block
"""


@pytest.mark.parametrize(
    ("request_", "findings", "action", "rules"),
    [
        (CheckRequest(requester=None, requester_known=False, territory="FR"), [], "review", ("anonymous",)),
        (CheckRequest(requester="bob", requester_known=False, territory="FR"), [], "review", ("anonymous",)),
        (CheckRequest(requester="bob", requester_known=True, territory="FR"), [], "allow", ()),
        (CheckRequest(requester="bob", requester_known=True, territory="kp"), [], "block", ("embargo",)),
        (
            CheckRequest(requester=None, territory="IR", content_tags=frozenset({"News"})),
            [],
            "block",
            ("anonymous", "embargo", "elsewhere-news"),
        ),
        (
            CheckRequest(
                requester="b", requester_known=True, territory="FR", content_tags=frozenset({"news"})
            ),
            [],
            "allow",
            (),
        ),
        (
            CheckRequest(
                requester="b", requester_known=True, territory=None, content_tags=frozenset({"news"})
            ),
            [],
            "allow",
            (),
        ),
        (
            CheckRequest(requester="b", requester_known=True, territory="FR"),
            [prompt_mention("restricted:sexual"), prompt_mention("not_permitted")],
            "block",
            ("prompt-restricted-mention",),
        ),
    ],
)
def test_request_conditions(
    request_: CheckRequest, findings: list[PolicyFinding], action: str, rules: tuple[str, ...]
) -> None:
    policy = small_policy(rules=REQUEST_RULES)
    decision = evaluate(policy, request_, findings)
    assert (decision.action, decision.rule_ids) == (action, rules)
    for rule_id in rules:
        expected = (0,) if rule_id == "prompt-restricted-mention" else ()
        assert decision.fired[rule_id] == expected


def test_deterministic(policy: Policy) -> None:
    findings = [work(0.6), cameo(0.9, "restricted:political"), work(0.9, mode="licensed"), prompt_work()]
    failures = [DetectorFailure("faces", "x")]
    first = evaluate(policy, US, findings, failures)
    for _ in range(3):
        assert evaluate(policy, US, findings, failures) == first
    assert first.to_dict()["fired"] == {k: list(v) for k, v in first.fired.items()}


def test_many_findings_are_summarised(policy: Policy) -> None:
    findings = [work(0.9, t=float(i)) for i in range(8)]
    decision = evaluate(policy, US, findings)
    assert decision.fired["copyright-optout-block"] == tuple(range(8))
    assert "and 3 more" in decision.reasons[0]


@pytest.mark.parametrize(
    ("territories", "territory", "expected"),
    [
        (("*",), "US", True),
        ((), "US", True),
        (("FR",), "US", False),
        (("FR",), "fr", True),
        (("FR",), None, True),
    ],
)
def test_covers(territories: tuple[str, ...], territory: str | None, expected: bool) -> None:
    assert covers(territories, territory) is expected


def test_refuses_unvalidated_policy() -> None:
    with pytest.raises(TypeError, match="validated Policy"):
        evaluate({"rules": []}, US, [])  # type: ignore[arg-type]
