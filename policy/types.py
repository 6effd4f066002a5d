"""The values the evaluator takes and returns: a check request, findings, detector failures, a decision.

These are plain frozen dataclasses so that the caller (governance) can build them from its own rows and
detector results without this package importing either. Fields that a detector or the database might leave
unset are ``None`` here on purpose: the evaluator checks every finding and fails closed on a missing field
instead of trusting a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["allow", "review", "block"]
ACTIONS: tuple[Action, ...] = ("allow", "review", "block")
"""In increasing precedence: a ``block`` anywhere beats any ``review``, which beats any ``allow``."""

FINDING_KINDS: frozenset[str] = frozenset({"copyright", "cameo", "prompt"})
PROMPT_MATCH_TYPES: frozenset[str] = frozenset({"work_name", "cameo_mention"})
WORK_MODES: frozenset[str] = frozenset({"opt_out", "licensed"})


def action_rank(action: str) -> int:
    """Precedence of an action; unknown strings rank above ``block`` so they can never weaken a decision."""
    try:
        return ACTIONS.index(action)
    except ValueError:
        return len(ACTIONS)


@dataclass(frozen=True)
class CheckRequest:
    """What was asked for. ``territory`` is an ISO 3166-1 alpha-2 code or ``None`` when unknown."""

    requester: str | None = None
    requester_known: bool = False
    territory: str | None = None
    prompt: str | None = None
    content_tags: frozenset[str] = frozenset()
    declared_cameos: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyFinding:
    """One detector finding, enriched by the caller with what the policy needs to judge it.

    - ``copyright``: ``ref_id`` is the work, ``work_mode`` and ``work_territories`` come from its registration
      (``("*",)`` or an empty tuple means everywhere).
    - ``cameo``: ``ref_id`` is the cameo, ``permitted``/``permission_code``/``permission_reason`` come from
      ``policy.permissions.decide_cameo_use`` for this requester and these content tags.
    - ``prompt``: ``prompt_match_type`` is ``work_name`` (then the work fields are required) or
      ``cameo_mention`` (then the permission fields are required).

    ``ref_name`` is an optional human label (work title, cameo owner) used only in reasons.
    """

    kind: str
    score: float | None
    ref_id: str | None = None
    t: float | None = None
    box: tuple[int, int, int, int] | None = None
    work_mode: str | None = None
    work_territories: tuple[str, ...] | None = None
    permitted: bool | None = None
    permission_code: str | None = None
    permission_reason: str | None = None
    prompt_match_type: str | None = None
    detail: str | None = None
    ref_name: str | None = None


@dataclass(frozen=True)
class DetectorFailure:
    """A detector that could not give an answer: an error, a missing model, an unreadable index."""

    detector: str
    message: str


@dataclass(frozen=True)
class Attribution:
    """A use the policy asked to record (e.g. a licensed work that must be credited)."""

    rule_id: str
    kind: str
    ref_id: str
    ref_name: str | None
    finding_indices: tuple[int, ...]


@dataclass(frozen=True)
class Decision:
    """The answer, explaining itself.

    ``rule_ids`` lists every rule that fired, in policy order; ``fired`` maps each to the indices (into the
    ``findings`` list given to ``evaluate``) of the findings it matched (empty for a rule on the request
    alone). ``reasons`` holds one sentence per fired rule, in the same order, followed by one per error.
    ``errors`` are the fail-closed causes: detector failures and findings the evaluator could not trust.
    """

    action: Action
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    fired: Mapping[str, tuple[int, ...]]
    policy_digest: str
    attributions: tuple[Attribution, ...] = ()
    errors: tuple[str, ...] = ()
    default_applied: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for storage and for the API."""
        return {
            "action": self.action,
            "rule_ids": list(self.rule_ids),
            "reasons": list(self.reasons),
            "fired": {k: list(v) for k, v in self.fired.items()},
            "policy_digest": self.policy_digest,
            "attributions": [
                {
                    "rule_id": a.rule_id,
                    "kind": a.kind,
                    "ref_id": a.ref_id,
                    "ref_name": a.ref_name,
                    "finding_indices": list(a.finding_indices),
                }
                for a in self.attributions
            ],
            "errors": list(self.errors),
            "default_applied": self.default_applied,
        }
