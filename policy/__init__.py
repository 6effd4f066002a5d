"""The policies.yaml schema and the pure evaluator: no I/O, no imports from the other packages."""

from policy.evaluator import evaluate
from policy.permissions import CameoPermission, CameoUseContext, decide_cameo_use
from policy.schema import Policy, PolicyError, load_policy, parse_policy
from policy.types import Attribution, CheckRequest, Decision, DetectorFailure, PolicyFinding

__all__ = [
    "Attribution",
    "CameoPermission",
    "CameoUseContext",
    "CheckRequest",
    "Decision",
    "DetectorFailure",
    "Policy",
    "PolicyError",
    "PolicyFinding",
    "decide_cameo_use",
    "evaluate",
    "load_policy",
    "parse_policy",
]
