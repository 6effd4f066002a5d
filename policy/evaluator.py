"""The pure evaluator: a validated policy, a request, findings and detector failures in; one decision out.

No I/O, no clock, no randomness: the same inputs always give the same ``Decision`` (same order of rule
ids, reasons and attributions). In the manner of Cedar, every answer names the rules that fired and the
findings each matched, and a stronger action always wins: ``block`` > ``review`` > ``allow``.

Fail closed:

- any ``DetectorFailure`` adds the policy's ``on_detector_error`` action (``block`` or ``review``);
- a finding the evaluator cannot judge (unknown kind, a missing or non-finite score, a missing work mode,
  territories or permission, a permission code that contradicts ``permitted``) is left out of rule
  matching and also adds ``on_detector_error``;
- ``default_action`` applies only when no rule fired and nothing failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from policy.permissions import is_allow_code, is_known_code
from policy.schema import Conditions, Policy, Rule
from policy.types import (
    FINDING_KINDS,
    PROMPT_MATCH_TYPES,
    WORK_MODES,
    Action,
    Attribution,
    CheckRequest,
    Decision,
    DetectorFailure,
    PolicyFinding,
    action_rank,
)

_MAX_FINDINGS_IN_REASON = 5


def evaluate(
    policy: Policy,
    request: CheckRequest,
    findings: Sequence[PolicyFinding],
    failures: Sequence[DetectorFailure] = (),
) -> Decision:
    """Apply ``policy`` to one request and its findings. Never raises for bad findings: it fails closed."""
    if not isinstance(policy, Policy):
        raise TypeError("evaluate() needs a validated Policy (use load_policy or parse_policy)")
    if not isinstance(request, CheckRequest):
        raise TypeError("evaluate() needs a CheckRequest")

    errors: list[str] = []
    for failure in failures:
        if isinstance(failure, DetectorFailure):
            errors.append(f"detector {failure.detector!r} failed: {failure.message}")
        else:
            errors.append(f"a detector failed with an unreadable failure report ({type(failure).__name__})")
    usable: list[bool] = []
    for i, finding in enumerate(findings):
        problem = finding_problem(finding)
        usable.append(problem is None)
        if problem is not None:
            errors.append(f"finding #{i} cannot be judged: {problem}")

    fired: dict[str, tuple[int, ...]] = {}
    reasons: list[str] = []
    attributions: list[Attribution] = []
    for rule in policy.rules:
        matched = _fires(policy, rule, request, findings, usable)
        if matched is None:
            continue
        fired[rule.id] = matched
        reasons.append(_reason(policy, rule, findings, matched))
        if rule.record == "attribution":
            attributions.extend(_attributions(rule, findings, matched))

    actions: list[str] = [rule.action for rule in policy.rules if rule.id in fired]
    if errors:
        actions.append(policy.on_detector_error)
        reasons.extend(f"{e} → {policy.on_detector_error} (on_detector_error)" for e in errors)
    default_applied = not actions
    action: Action = policy.default_action if default_applied else _strongest(actions)
    return Decision(
        action=action,
        rule_ids=tuple(fired),
        reasons=tuple(reasons),
        fired=fired,
        policy_digest=policy.digest,
        attributions=tuple(attributions),
        errors=tuple(errors),
        default_applied=default_applied,
    )


def _strongest(actions: Sequence[str]) -> Action:
    best = max(actions, key=action_rank)
    # Every action comes from a validated policy; were one ever unknown, it ranks (and acts) as block.
    if best == "allow":
        return "allow"
    if best == "review":
        return "review"
    return "block"


# --- checking findings --------------------------------------------------------------------------------------


def finding_problem(f: object) -> str | None:
    """Why this finding cannot be judged, or ``None`` if it can."""
    if not isinstance(f, PolicyFinding):
        return f"not a PolicyFinding but {type(f).__name__}"
    if f.kind not in FINDING_KINDS:
        return f"unknown kind {f.kind!r}"
    score = f.score
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        return f"{f.kind} finding has no usable score ({score!r})"
    if not f.ref_id:
        return f"{f.kind} finding does not say which work or cameo it matched"
    if f.kind == "copyright":
        return _work_problem(f)
    if f.kind == "cameo":
        return _permission_problem(f)
    if f.prompt_match_type not in PROMPT_MATCH_TYPES:
        return f"prompt finding has unknown match type {f.prompt_match_type!r}"
    return _work_problem(f) if f.prompt_match_type == "work_name" else _permission_problem(f)


def _work_problem(f: PolicyFinding) -> str | None:
    if f.work_mode not in WORK_MODES:
        return f"{f.kind} finding for work {f.ref_id} has no valid work_mode ({f.work_mode!r})"
    if f.work_territories is None:
        return f"{f.kind} finding for work {f.ref_id} has no work_territories"
    return None


def _permission_problem(f: PolicyFinding) -> str | None:
    if not isinstance(f.permitted, bool):
        return f"{f.kind} finding for cameo {f.ref_id} has no permission decision"
    code = f.permission_code
    if not code or not is_known_code(code):
        return f"{f.kind} finding for cameo {f.ref_id} has an unknown permission code {code!r}"
    if is_allow_code(code) != f.permitted:
        return f"{f.kind} finding for cameo {f.ref_id}: permitted={f.permitted} contradicts code {code!r}"
    return None


# --- matching rules -----------------------------------------------------------------------------------------


def _fires(
    policy: Policy,
    rule: Rule,
    request: CheckRequest,
    findings: Sequence[PolicyFinding],
    usable: Sequence[bool],
) -> tuple[int, ...] | None:
    """The matched finding indices if the rule fires (empty for a request-only rule), else ``None``."""
    w = rule.when
    if not _request_holds(w, request):
        return None
    if w.kind is None:
        return ()
    matched = tuple(
        i for i, f in enumerate(findings) if usable[i] and _finding_holds(policy, w, f, request.territory)
    )
    return matched or None


def _request_holds(w: Conditions, request: CheckRequest) -> bool:
    if w.requester is not None:
        known = bool(request.requester_known and request.requester and request.requester.strip())
        if known != (w.requester == "known"):
            return False
    territory = request.territory.strip().upper() if request.territory else None
    # An unknown territory satisfies neither territory_in nor territory_not_in.
    if w.territory_in is not None and (territory is None or territory not in w.territory_in):
        return False
    if w.territory_not_in is not None and (territory is None or territory in w.territory_not_in):
        return False
    if w.content_tags_any is not None:
        tags = {t.strip().casefold() for t in request.content_tags}
        if not tags & set(w.content_tags_any):
            return False
    return True


def covers(work_territories: Sequence[str], territory: str | None) -> bool:
    """Whether a work registered for ``work_territories`` is protected where the request comes from.

    ``*`` or an empty list means everywhere. An unknown request territory counts as covered (fail closed).
    """
    codes = {t.strip().upper() for t in work_territories}
    if not codes or "*" in codes or territory is None:
        return True
    return territory.strip().upper() in codes


def _finding_holds(policy: Policy, w: Conditions, f: PolicyFinding, territory: str | None) -> bool:
    if f.kind != w.kind:
        return False
    assert f.score is not None  # checked by finding_problem
    if w.score_at_least is not None and f.score < policy.resolve(f.kind, w.score_at_least):
        return False
    if w.score_below is not None and f.score >= policy.resolve(f.kind, w.score_below):
        return False
    if w.prompt_match is not None and f.prompt_match_type != w.prompt_match:
        return False
    uses_work = w.work_mode is not None or w.in_work_territory is not None
    if uses_work:
        if f.work_mode is None or f.work_territories is None:
            return False
        if w.work_mode is not None and f.work_mode != w.work_mode:
            return False
        if w.in_work_territory is not None and covers(f.work_territories, territory) != w.in_work_territory:
            return False
    if w.permitted is not None and f.permitted is not w.permitted:
        return False
    if w.permission_code is not None:
        code = f.permission_code or ""
        if not any(_code_matches(p, code) for p in w.permission_code):
            return False
    return True


def _code_matches(pattern: str, code: str) -> bool:
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


# --- explaining ---------------------------------------------------------------------------------------------


def _label(f: PolicyFinding) -> str:
    if f.ref_name and f.ref_name != f.ref_id:
        return f"{f.ref_name!r} ({f.ref_id})"
    return str(f.ref_id)


def _describe(f: PolicyFinding) -> str:
    score = f"{f.score:.3f}" if f.score is not None else "?"
    when = f" at t={f.t:.2f}s" if f.t is not None else ""
    if f.kind == "copyright":
        return f"work {_label(f)} ({f.work_mode}) matched with score {score}{when}"
    if f.kind == "cameo":
        box = f" in box {list(f.box)}" if f.box is not None else ""
        why = f.permission_reason or f.permission_code
        return f"cameo {_label(f)} matched with score {score}{when}{box}: {why}"
    if f.prompt_match_type == "work_name":
        matched = f" as {f.detail!r}" if f.detail else ""
        return f"the prompt names work {_label(f)} ({f.work_mode}){matched}, score {score}"
    return f"the prompt mentions cameo {_label(f)}: {f.permission_reason or f.permission_code}"


def _condition_text(policy: Policy, w: Conditions) -> str:
    parts: list[str] = []
    if w.requester is not None:
        parts.append(f"requester {w.requester}")
    if w.territory_in is not None:
        parts.append(f"territory in {','.join(w.territory_in)}")
    if w.territory_not_in is not None:
        parts.append(f"territory not in {','.join(w.territory_not_in)}")
    if w.content_tags_any is not None:
        parts.append(f"tagged {'/'.join(w.content_tags_any)}")
    if w.kind is not None:
        if w.score_at_least is not None:
            parts.append(f"score ≥ {policy.resolve(w.kind, w.score_at_least):g}")
        if w.score_below is not None:
            parts.append(f"score < {policy.resolve(w.kind, w.score_below):g}")
    if w.in_work_territory is not None:
        parts.append(
            "inside the work's territories" if w.in_work_territory else "outside the work's territories"
        )
    return ", ".join(parts)


def _reason(
    policy: Policy,
    rule: Rule,
    findings: Sequence[PolicyFinding],
    matched: tuple[int, ...],
) -> str:
    head = f"rule {rule.id!r} → {rule.action}: {rule.description}"
    conditions = _condition_text(policy, rule.when)
    if conditions:
        head += f" [{conditions}]"
    if not matched:
        return head
    shown = [f"#{i} {_describe(findings[i])}" for i in matched[:_MAX_FINDINGS_IN_REASON]]
    more = len(matched) - len(shown)
    if more:
        shown.append(f"and {more} more")
    return f"{head}: " + "; ".join(shown)


def _attributions(
    rule: Rule, findings: Sequence[PolicyFinding], matched: tuple[int, ...]
) -> list[Attribution]:
    by_ref: dict[tuple[str, str], list[int]] = {}
    names: dict[tuple[str, str], str | None] = {}
    for i in matched:
        f = findings[i]
        key = (f.kind, str(f.ref_id))
        by_ref.setdefault(key, []).append(i)
        names.setdefault(key, f.ref_name)
    return [
        Attribution(rule_id=rule.id, kind=k[0], ref_id=k[1], ref_name=names[k], finding_indices=tuple(idx))
        for k, idx in by_ref.items()
    ]
