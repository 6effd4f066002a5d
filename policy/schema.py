"""The ``policies.yaml`` schema: pydantic models, load-time refusals, and errors that name the line.

A policy is refused when loading, never half-applied: unknown fields, out-of-range thresholds, an empty
rule set, duplicate rule ids, rules whose conditions can never hold, and rules with identical conditions
(contradictory when their actions differ, redundant otherwise). Every refusal is a ``PolicyError`` whose
message names the file, the line and the field, e.g.
``policies.yaml line 7: rules[0].when.score_at_least: Input should be a valid number``.

Line numbers come from composing the YAML node tree (each node carries its start mark) and walking it
along the location pydantic reports. ``load_policy`` is the only function here that does I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

import yaml  # no stubs installed; see the report
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from policy.permissions import ALLOW_CODES, DENY_CODES, RESTRICTED_PREFIX, is_known_code
from policy.types import Action

_STRICT_MODEL = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

Unit = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(strict=True, gt=0.0)]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
StrictBool = Annotated[bool, Field(strict=True)]
Territory = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Tag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
ThresholdName = Literal["block", "review", "match"]
ScoreRef = Unit | ThresholdName
"""A literal score in [0, 1] or the name of a threshold of the finding's detector (see ``resolve``)."""

_SEMANTIC = "policy_semantic"


class PolicyError(Exception):
    """A policy file that cannot be used. ``issues`` holds (line or None, field path, message)."""

    def __init__(self, message: str, issues: Sequence[PolicyIssue] = ()) -> None:
        super().__init__(message)
        self.issues: tuple[PolicyIssue, ...] = tuple(issues)


@dataclass(frozen=True)
class PolicyIssue:
    line: int | None
    path: str
    message: str


def _semantic_error(issues: list[tuple[tuple[str | int, ...], str]]) -> PydanticCustomError:
    # The locations ride along in the error context so parse_policy can map each one to its YAML line.
    return PydanticCustomError(_SEMANTIC, "{summary}", {"summary": issues[0][1], "issues": tuple(issues)})


class FramesSettings(BaseModel):
    """How the frame sampler reads a video: rate, scene cuts, and the limits past which it refuses."""

    model_config = _STRICT_MODEL

    fps: Annotated[float, Field(strict=True, gt=0.0, le=60.0)] = 1.0
    scene_cuts: StrictBool = True
    max_duration_s: PositiveFloat = 3600.0
    max_pixels: PositiveInt = 3840 * 2160
    max_frames: PositiveInt = 3600
    max_bytes: PositiveInt = 4 * 1024**3


class CopyrightSettings(BaseModel):
    """The copy detector: which embedding model, and the scores at which a match blocks or needs review."""

    model_config = _STRICT_MODEL

    model: Literal["sscd", "sscd_distilled", "open_clip"] = "sscd"
    block_threshold: Unit = 0.75
    review_threshold: Unit = 0.55
    extra_views: StrictBool = True

    @model_validator(mode="after")
    def _ordered(self) -> CopyrightSettings:
        if self.review_threshold > self.block_threshold:
            raise _semantic_error(
                [
                    (
                        ("review_threshold",),
                        f"review_threshold {self.review_threshold} is above block_threshold "
                        f"{self.block_threshold}",
                    )
                ]
            )
        return self


class FacesSettings(BaseModel):
    """The face matcher: which embedder, and the similarity at which a face is that cameo or needs review."""

    model_config = _STRICT_MODEL

    embedder: Literal["dlib", "arcface"] = "dlib"
    match_threshold: Unit = 0.6
    review_threshold: Unit = 0.5
    min_face_px: PositiveInt = 40

    @model_validator(mode="after")
    def _ordered(self) -> FacesSettings:
        if self.review_threshold > self.match_threshold:
            raise _semantic_error(
                [
                    (
                        ("review_threshold",),
                        f"review_threshold {self.review_threshold} is above match_threshold "
                        f"{self.match_threshold}",
                    )
                ]
            )
        return self


class PromptSettings(BaseModel):
    """Prompt screening: the fuzzy-match score (0-100) at which a title counts as named."""

    model_config = _STRICT_MODEL

    fuzzy_threshold: Annotated[float, Field(strict=True, ge=0.0, le=100.0)] = 90.0
    semantic_threshold: Unit | None = None
    """Cosine similarity for the optional sentence-embedding matcher; ``None`` leaves it off."""


class DisputesSettings(BaseModel):
    """Takedown disputes: how long after a counter-notice the content is reinstated unless sued over."""

    model_config = _STRICT_MODEL

    reinstatement_days: Annotated[int, Field(strict=True, ge=1, le=365)] = 14


class Conditions(BaseModel):
    """A rule's ``when``: conditions on the request, and (with ``kind``) on at least one finding.

    Request: ``requester`` (known/unknown), ``territory_in`` / ``territory_not_in`` (an unknown territory
    satisfies neither), ``content_tags_any``. Finding (all must hold for one finding): ``kind``,
    ``score_at_least`` / ``score_below`` (a literal or ``block``/``match``/``review``, the detector's
    threshold), ``work_mode``, ``in_work_territory`` (an unknown request territory counts as covered: fail
    closed), ``permitted``, ``permission_code`` (codes; ``restricted:*`` matches every restriction),
    ``prompt_match``.
    """

    model_config = _STRICT_MODEL

    requester: Literal["known", "unknown"] | None = None
    territory_in: tuple[Territory, ...] | None = None
    territory_not_in: tuple[Territory, ...] | None = None
    content_tags_any: tuple[Tag, ...] | None = None
    kind: Literal["copyright", "cameo", "prompt"] | None = None
    score_at_least: ScoreRef | None = None
    score_below: ScoreRef | None = None
    work_mode: Literal["opt_out", "licensed"] | None = None
    in_work_territory: StrictBool | None = None
    permitted: StrictBool | None = None
    permission_code: tuple[str, ...] | None = None
    prompt_match: Literal["work_name", "cameo_mention"] | None = None


class Rule(BaseModel):
    """One rule: when its conditions hold it fires and contributes its action."""

    model_config = _STRICT_MODEL

    id: RuleId
    description: Annotated[str, Field(min_length=1, max_length=500)]
    when: Conditions
    action: Action
    record: Literal["attribution"] | None = None


class Policy(BaseModel):
    """A whole policy file, validated. ``digest`` is the SHA-256 of its canonical JSON form."""

    model_config = _STRICT_MODEL

    version: Literal[1]
    default_action: Action = "allow"
    on_detector_error: Literal["block", "review"] = "block"
    frames: FramesSettings = FramesSettings()
    copyright: CopyrightSettings = CopyrightSettings()
    faces: FacesSettings = FacesSettings()
    prompt: PromptSettings = PromptSettings()
    retroactive: Literal["takedown", "review", "none"] = "takedown"
    disputes: DisputesSettings = DisputesSettings()
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        issues = rule_issues(self)
        if issues:
            raise _semantic_error(issues)
        return self

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, defaults filled in: equal policies give equal text."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def resolve(self, kind: str, ref: ScoreRef) -> float:
        """A score reference as a number: ``block``/``match`` is the detector's upper threshold."""
        if not isinstance(ref, str):
            return float(ref)
        if kind == "copyright":
            return self.copyright.review_threshold if ref == "review" else self.copyright.block_threshold
        if kind == "cameo":
            return self.faces.review_threshold if ref == "review" else self.faces.match_threshold
        if kind == "prompt":
            # The screener reports only matches at or above its threshold; both names mean that threshold.
            return self.prompt.fuzzy_threshold / 100.0
        raise ValueError(f"no threshold {ref!r} for finding kind {kind!r}")


def policy_digest(policy: Policy) -> str:
    return policy.digest


# --- coherence of the rule set ----------------------------------------------------------------------------

_WORK_FIELDS = ("work_mode", "in_work_territory")
_CAMEO_FIELDS = ("permitted", "permission_code")
_FINDING_FIELDS = (
    "score_at_least",
    "score_below",
    *_WORK_FIELDS,
    *_CAMEO_FIELDS,
    "prompt_match",
)


def _code_matches(pattern: str, code: str) -> bool:
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


def _when_issues(policy: Policy, rule: Rule) -> list[tuple[str, str]]:
    """(field, message) for every way this rule's conditions are malformed or can never hold."""
    w = rule.when
    out: list[tuple[str, str]] = []
    for name in ("territory_in", "territory_not_in", "content_tags_any", "permission_code"):
        value = getattr(w, name)
        if value is not None and len(value) == 0:
            out.append((name, "an empty list can never hold; leave the condition out instead"))
    if w.territory_in and w.territory_not_in and set(w.territory_in) <= set(w.territory_not_in):
        out.append(("territory_not_in", "excludes every territory of territory_in: the rule can never fire"))
    for pattern in w.permission_code or ():
        known = pattern == RESTRICTED_PREFIX + "*" or is_known_code(pattern)
        if not known:
            codes = ", ".join(sorted(ALLOW_CODES | DENY_CODES))
            out.append(("permission_code", f"unknown code {pattern!r} (known: {codes}, restricted:<tag>)"))
    if w.kind is None:
        for name in _FINDING_FIELDS:
            if getattr(w, name) is not None:
                out.append((name, "a finding condition needs `kind` (copyright, cameo or prompt)"))
        if rule.record is not None:
            out.append(("kind", "`record` needs a rule on findings (set `kind`)"))
        return out
    if w.kind == "copyright":
        for name in (*_CAMEO_FIELDS, "prompt_match"):
            if getattr(w, name) is not None:
                out.append((name, "copyright findings have no such property: the rule can never fire"))
    elif w.kind == "cameo":
        for name in (*_WORK_FIELDS, "prompt_match"):
            if getattr(w, name) is not None:
                out.append((name, "cameo findings have no such property: the rule can never fire"))
    else:
        uses_work = any(getattr(w, n) is not None for n in _WORK_FIELDS)
        uses_cameo = any(getattr(w, n) is not None for n in _CAMEO_FIELDS)
        if uses_work and uses_cameo:
            out.append(("permitted", "a prompt finding names a work or a cameo, never both"))
        if uses_work and w.prompt_match == "cameo_mention":
            out.append(("prompt_match", "cameo mentions carry no work: the work conditions can never hold"))
        if uses_cameo and w.prompt_match == "work_name":
            out.append(
                ("prompt_match", "work names carry no permission: the cameo conditions can never hold")
            )
    if w.score_at_least is not None and w.score_below is not None:
        low = policy.resolve(w.kind, w.score_at_least)
        high = policy.resolve(w.kind, w.score_below)
        if low >= high:
            out.append(
                (
                    "score_below",
                    f"score at least {low:g} and below {high:g} can never both hold",
                )
            )
    elif w.score_below is not None and policy.resolve(w.kind, w.score_below) <= 0.0:
        out.append(("score_below", "no score is below 0: the rule can never fire"))
    # The code decides `permitted`: a code from the other side can never come with this value.
    if (
        w.permitted is not None
        and w.permission_code
        and not any((p in ALLOW_CODES) == w.permitted for p in w.permission_code)
    ):
        out.append(("permission_code", f"no listed code comes with permitted: {str(w.permitted).lower()}"))
    if w.requester == "unknown" and (w.permitted is True or (w.permission_code and _only_allow(w))):
        out.append(("permitted", "an unknown requester is never permitted a cameo: the rule can never fire"))
    return out


def _only_allow(w: Conditions) -> bool:
    return all(p in ALLOW_CODES for p in w.permission_code or ())


def _canonical_conditions(policy: Policy, rule: Rule) -> str:
    """The conditions with lists as sets and threshold names resolved, for comparing rules."""
    data: dict[str, Any] = {}
    for name, value in rule.when.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = sorted(set(value))
        elif name in ("score_at_least", "score_below") and rule.when.kind is not None:
            value = policy.resolve(rule.when.kind, value)
        data[name] = value
    return json.dumps(data, sort_keys=True)


def rule_issues(policy: Policy) -> list[tuple[tuple[str | int, ...], str]]:
    """Every reason to refuse this rule set, each with its location (for line numbers)."""
    issues: list[tuple[tuple[str | int, ...], str]] = []
    if not policy.rules:
        issues.append((("rules",), "the rule set is empty: a policy needs at least one rule"))
        return issues
    first_by_id: dict[str, int] = {}
    first_by_conditions: dict[str, int] = {}
    for i, rule in enumerate(policy.rules):
        if rule.id in first_by_id:
            issues.append(
                (
                    ("rules", i, "id"),
                    f"duplicate rule id {rule.id!r} (first used by rules[{first_by_id[rule.id]}])",
                )
            )
        else:
            first_by_id[rule.id] = i
        problems = _when_issues(policy, rule)
        for name, message in problems:
            issues.append((("rules", i, "when", name), message))
        if problems:
            continue
        key = _canonical_conditions(policy, rule)
        if key in first_by_conditions:
            j = first_by_conditions[key]
            other = policy.rules[j]
            if other.action != rule.action:
                message = (
                    f"contradicts rule {other.id!r}: identical conditions but action {rule.action} "
                    f"vs {other.action}"
                )
            else:
                message = f"repeats the conditions of rule {other.id!r}: remove one"
            issues.append((("rules", i, "when"), message))
        else:
            first_by_conditions[key] = i
    return issues


# --- loading ------------------------------------------------------------------------------------------------


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate a policy file; any problem is a ``PolicyError`` naming the line and the field."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{source}: cannot read the policy file: {exc}") from exc
    return parse_policy(text, os.path.basename(source) or source)


def parse_policy(text: str, source_name: str = "<policy>") -> Policy:
    """Validate policy text (YAML). ``source_name`` prefixes every error message."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{source_name}{where}: not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source_name}: not valid YAML: {exc}") from exc
    if root is None:
        raise PolicyError(f"{source_name} line 1: the policy is empty")
    if not isinstance(root, yaml.MappingNode):
        raise PolicyError(f"{source_name} line {root.start_mark.line + 1}: the policy must be a mapping")
    duplicate = _first_duplicate_key(root)
    if duplicate is not None:
        line, key = duplicate
        raise PolicyError(
            f"{source_name} line {line}: key {key!r} appears twice in the same mapping",
            [PolicyIssue(line, key, "duplicate key")],
        )
    data = yaml.safe_load(text)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        issues = _issues_from(exc, root, data)
        message = "; ".join(
            f"{source_name}{'' if i.line is None else f' line {i.line}'}: {i.path}: {i.message}"
            for i in issues
        )
        raise PolicyError(message, issues) from None


def _first_duplicate_key(node: yaml.Node) -> tuple[int, str] | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    return key.start_mark.line + 1, key.value
                seen.add(key.value)
            found = _first_duplicate_key(value)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _first_duplicate_key(item)
            if found:
                return found
    return None


def _walk(root: yaml.Node, loc: Sequence[str | int]) -> tuple[int, list[str | int]]:
    """The 1-based line of ``loc`` in the YAML tree and the part of ``loc`` that names real fields.

    Parts after a scalar (pydantic's union-member tags such as ``constrained-float``) are dropped. A key
    missing from a mapping is kept in the path and reported at the mapping's line.
    """
    node: yaml.Node | None = root
    line = root.start_mark.line
    path: list[str | int] = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            path.append(part)
            pair = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)),
                None,
            )
            if pair is None:
                break
            line = pair[0].start_mark.line
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            path.append(part)
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1, path


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _field_names(loc: Sequence[str | int]) -> list[str] | None:
    """The fields allowed at ``loc`` (the model that holds it), for 'unknown field' messages."""
    model: Any = Policy
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        model = _model_in(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return None


def _model_in(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        return None
    return annotation


def _value_at(data: Any, loc: Sequence[str | int]) -> Any:
    for part in loc:
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_list or (isinstance(data, Mapping) and part in data)):
            return None
        data = data[part]
    return data


def _issues_from(exc: ValidationError, root: yaml.Node, data: Any) -> list[PolicyIssue]:
    grouped: dict[tuple[int, str], list[str]] = {}
    for err in exc.errors():
        loc: tuple[str | int, ...] = tuple(err["loc"])
        if err["type"] == _SEMANTIC:
            ctx = err.get("ctx") or {}
            for sub_loc, message in ctx.get("issues", ()):
                _add(grouped, root, (*loc, *sub_loc), message)
            continue
        if err["type"] == "extra_forbidden":
            allowed = _field_names(loc[:-1])
            hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
            _add(grouped, root, loc, f"unknown field {loc[-1]!r}{hint}")
            continue
        message = err["msg"]
        value = _value_at(data, [p for p in loc if isinstance(p, int | str)])
        if isinstance(value, bool) and "bool" not in err["type"]:
            message += " (YAML reads yes/no/on/off/true/false as booleans: quote the value)"
        if isinstance(value, float) and math.isnan(value):
            message = "NaN is not allowed"
        _add(grouped, root, loc, message)
    return [PolicyIssue(line, path, "; ".join(dict.fromkeys(msgs))) for (line, path), msgs in grouped.items()]


def _add(
    grouped: dict[tuple[int, str], list[str]], root: yaml.Node, loc: Sequence[str | int], msg: str
) -> None:
    line, path = _walk(root, loc)
    grouped.setdefault((line, _dotted(path)), []).append(msg)
