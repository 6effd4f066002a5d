"""Loading policies: the default file, refusals with line numbers, and the digest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from policy.schema import Policy, PolicyError, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "policies.yaml"


def doc(text: str) -> str:
    """Dedent a YAML document; its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


ONE_RULE = doc(
    """
    version: 1
    rules:
      - id: block-copies
        description: copies of opted-out works
        when:
          kind: copyright
          work_mode: opt_out
          score_at_least: block
        action: block
    """
)


def test_default_policy_loads() -> None:
    policy = load_policy(DEFAULT)
    assert isinstance(policy, Policy)
    ids = [r.id for r in policy.rules]
    assert len(ids) == len(set(ids)) >= 8
    assert policy.on_detector_error == "block"
    # The calibrated values (bench/accuracy.py): SSCD copies >= 0.71 vs unrelated <= 0.11; dlib's LFW cut.
    assert policy.copyright.block_threshold == 0.60 and policy.copyright.review_threshold == 0.40
    assert policy.faces.match_threshold == 0.5 and policy.faces.review_threshold == 0.45


def test_defaults_fill_in() -> None:
    policy = parse_policy(ONE_RULE)
    assert policy.frames.fps == 1.0
    assert policy.default_action == "allow"
    assert policy.disputes.reinstatement_days == 14


# --- digest -------------------------------------------------------------------------------------------------


def test_digest_is_sha256_of_canonical_json() -> None:
    policy = load_policy(DEFAULT)
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert policy.digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert load_policy(DEFAULT).digest == policy.digest


def test_digest_is_stable_across_processes() -> None:
    code = f"from policy.schema import load_policy; print(load_policy({str(DEFAULT)!r}).digest)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == load_policy(DEFAULT).digest


def test_digest_ignores_layout_but_not_values() -> None:
    base = parse_policy(ONE_RULE).digest
    spelled_out = ONE_RULE.replace("version: 1\n", "version: 1  # a comment\ndefault_action: allow\n")
    assert parse_policy(spelled_out).digest == base
    changed = ONE_RULE.replace("version: 1\n", "version: 1\ncopyright:\n  block_threshold: 0.8\n")
    assert parse_policy(changed).digest != base
    text = DEFAULT.read_text()
    assert "block_threshold: 0.60" in text
    assert parse_policy(text.replace("block_threshold: 0.60", "block_threshold: 0.61")).digest != (
        load_policy(DEFAULT).digest
    )


# --- refusals with line numbers ----------------------------------------------------------------------------


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(doc(text), "p.yaml")
    return info.value


def test_unknown_field_names_line_and_field() -> None:
    err = refused(
        """
        version: 1
        rules:
          - id: r1
            description: d
            when:
              kind: copyright
              scor_at_least: 0.8
            action: block
        """
    )
    assert "p.yaml line 7: rules[0].when.scor_at_least: unknown field 'scor_at_least'" in str(err)
    assert "score_at_least" in str(err)  # the allowed fields are listed
    assert err.issues[0].line == 7


def test_unknown_top_level_field() -> None:
    with pytest.raises(PolicyError, match=r"line 2: colour: unknown field"):
        parse_policy(doc("version: 1\ncolour: blue\n") + ONE_RULE.split("\n", 1)[1])


def test_threshold_out_of_range() -> None:
    err = refused(
        """
        version: 1
        copyright:
          block_threshold: 1.5
        rules:
          - id: r1
            description: d
            when: {kind: copyright, score_at_least: block}
            action: block
        """
    )
    assert "line 3: copyright.block_threshold: Input should be less than or equal to 1" in str(err)


def test_review_above_block() -> None:
    with pytest.raises(PolicyError, match=r"line 4: faces\.review_threshold: review_threshold 0\.7 is above"):
        parse_policy(
            doc(
                """
                version: 1
                faces:
                  match_threshold: 0.6
                  review_threshold: 0.7
                rules:
                  - {id: r1, description: d, when: {kind: cameo, permitted: false}, action: block}
                """
            )
        )


def test_literal_score_out_of_range_in_rule() -> None:
    err = refused(
        """
        version: 1
        rules:
          - id: r1
            description: d
            when:
              kind: cameo
              score_at_least: 2
            action: block
        """
    )
    assert "line 7: rules[0].when.score_at_least:" in str(err)
    assert len(err.issues) == 1  # the two union branches are reported as one issue


def test_empty_rule_set() -> None:
    with pytest.raises(PolicyError, match=r"line 3: rules: the rule set is empty"):
        parse_policy(doc("version: 1\nretroactive: review\nrules: []\n"))


def test_missing_rules_and_wrong_version() -> None:
    err = refused("version: 2\n")
    text = str(err)
    assert "line 1: version: Input should be 1" in text
    assert "line 1: rules: Field required" in text


def test_missing_action_points_at_the_rule() -> None:
    with pytest.raises(PolicyError, match=r"line 3: rules\[0\]\.action: Field required"):
        parse_policy(
            doc(
                """
                version: 1
                rules:
                  - id: r1
                    description: d
                    when: {kind: cameo, permitted: false}
                """
            )
        )


def test_duplicate_rule_ids() -> None:
    with pytest.raises(PolicyError, match=r"line 7: rules\[1\]\.id: duplicate rule id 'r1'"):
        parse_policy(
            doc(
                """
                version: 1
                rules:
                  - id: r1
                    description: d
                    when: {kind: cameo, permitted: false}
                    action: block
                  - id: r1
                    description: d
                    when: {kind: copyright, work_mode: opt_out}
                    action: block
                """
            )
        )


def test_contradictory_rules() -> None:
    with pytest.raises(PolicyError, match=r"line 12: rules\[1\]\.when: contradicts rule 'a'.*block vs allow"):
        parse_policy(
            doc(
                """
                version: 1
                rules:
                  - id: a
                    description: allow licensed
                    when:
                      kind: copyright
                      work_mode: licensed
                      score_at_least: block
                    action: allow
                  - id: b
                    description: block licensed, same conditions written differently
                    when:
                      score_at_least: 0.75
                      work_mode: licensed
                      kind: copyright
                    action: block
                """
            )
        )


def test_redundant_rules() -> None:
    with pytest.raises(PolicyError, match=r"line 9: rules\[1\]\.when: repeats the conditions of rule 'a'"):
        parse_policy(
            doc(
                """
                version: 1
                rules:
                  - id: a
                    description: d
                    when: {territory_in: [FR, DE], requester: unknown}
                    action: review
                  - id: b
                    description: d
                    when: {requester: unknown, territory_in: [DE, FR]}
                    action: review
                """
            )
        )


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "{kind: copyright, score_at_least: 0.9, score_below: 0.5}",
            r"score_below: score at least 0\.9 and below",
        ),
        (
            "{kind: copyright, score_at_least: block, score_below: review}",
            r"score_below: score at least 0\.75",
        ),
        ("{kind: copyright, score_below: 0}", r"score_below: no score is below 0"),
        ("{kind: cameo, work_mode: opt_out}", r"work_mode: cameo findings have no such property"),
        ("{kind: copyright, permitted: false}", r"permitted: copyright findings have no such property"),
        ("{kind: cameo, prompt_match: work_name}", r"prompt_match: cameo findings have no such property"),
        ("{score_at_least: 0.5}", r"score_at_least: a finding condition needs `kind`"),
        (
            "{kind: prompt, work_mode: opt_out, permitted: false}",
            r"permitted: a prompt finding names a work or",
        ),
        (
            "{kind: prompt, prompt_match: cameo_mention, work_mode: opt_out}",
            r"prompt_match: cameo mentions carry",
        ),
        ("{kind: prompt, prompt_match: work_name, permitted: false}", r"prompt_match: work names carry no"),
        ("{kind: cameo, permission_code: [bogus]}", r"permission_code: unknown code 'bogus'"),
        (
            "{kind: cameo, permitted: true, permission_code: [not_permitted]}",
            r"permission_code: no listed code comes with permitted",
        ),
        (
            "{kind: cameo, permitted: false, permission_code: [owner, granted]}",
            r"permission_code: no listed code comes with",
        ),
        (
            "{kind: cameo, requester: unknown, permitted: true}",
            r"permitted: an unknown requester is never permitted",
        ),
        ("{territory_in: [FR], territory_not_in: [FR, DE]}", r"territory_not_in: excludes every territory"),
        ("{content_tags_any: []}", r"content_tags_any: an empty list can never hold"),
        ("{territory_in: [fr]}", r"territory_in\[0\]: String should match pattern"),
        ("{kind: trademark}", r"kind: Input should be 'copyright', 'cameo' or 'prompt'"),
    ],
)
def test_rules_that_can_never_fire_or_are_malformed(when: str, message: str) -> None:
    text = doc(
        f"""
        version: 1
        rules:
          - id: ok
            description: d
            when: {{kind: copyright, work_mode: opt_out}}
            action: block
          - id: bad
            description: d
            when: {when}
            action: block
        """
    )
    with pytest.raises(PolicyError, match=r"p\.yaml line 9: rules\[1\]\.when\." + message):
        parse_policy(text, "p.yaml")


def test_record_needs_a_kind() -> None:
    with pytest.raises(PolicyError, match=r"line 5: rules\[0\]\.when\.kind: `record` needs"):
        parse_policy(
            doc(
                """
                version: 1
                rules:
                  - id: r
                    description: d
                    when: {requester: known}
                    action: allow
                    record: attribution
                """
            )
        )


def test_norway_problem_is_explained() -> None:
    err = refused(
        """
        version: 1
        rules:
          - id: r
            description: d
            when:
              territory_in: [SE, NO]
            action: review
        """
    )
    assert "line 6: rules[0].when.territory_in[1]" in str(err)
    assert "quote the value" in str(err)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(PolicyError, match=r"line 3: frames\.fps: Input should be a valid number"):
        parse_policy(doc("version: 1\nframes:\n  fps: true\n") + ONE_RULE.split("\n", 1)[1])


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(PolicyError, match=r"p\.yaml line 4: not valid YAML"):
        parse_policy("version: 1\nrules:\n  - id: a\n   bad: [\n", "p.yaml")


def test_duplicate_yaml_key() -> None:
    with pytest.raises(PolicyError, match=r"line 3: key 'version' appears twice"):
        parse_policy("version: 1\nrules: []\nversion: 1\n")


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just text\n"])
def test_not_a_mapping(text: str) -> None:
    with pytest.raises(PolicyError, match=r"line 1: the policy (is empty|must be a mapping)"):
        parse_policy(text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "absent.yaml")


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("version: 1\nrules: []\n")
    with pytest.raises(PolicyError, match=r"^mine\.yaml line 2: rules: the rule set is empty"):
        load_policy(path)


def test_policy_package_imports_nothing_else() -> None:
    code = (
        "import sys, policy.schema, policy.evaluator, policy.permissions, policy.types\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'governance', 'detectors', 'api', 'generator_adapter'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
