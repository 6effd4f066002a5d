"""Tests of the detector registry: one explicit list, unique names, and ``describe()`` for the CLI."""

from __future__ import annotations

import inspect
from typing import ClassVar

import pytest

from detectors import models, registry
from detectors.base import Detector
from detectors.registry import DETECTORS, DetectorEntry, DetectorRegistryError, by_name, describe, validate


class _Fake(Detector):
    name: ClassVar[str] = "copy"  # clashes with CopyDetector
    version: ClassVar[str] = "1"

    @property
    def model_id(self) -> str:
        return "fake"


def test_the_list_is_valid_and_names_are_unique() -> None:
    validate(DETECTORS)
    names = [e.cls.name for e in DETECTORS]
    assert len(names) == len(set(names))
    for entry in DETECTORS:
        assert issubclass(entry.cls, Detector) and not inspect.isabstract(entry.cls), entry.cls
        assert by_name(entry.cls.name) is entry.cls


def test_a_duplicate_name_is_refused() -> None:
    with pytest.raises(DetectorRegistryError, match="'copy' is used by both CopyDetector and _Fake"):
        validate([*DETECTORS, DetectorEntry(_Fake, (), "fake")])


@pytest.mark.parametrize(
    ("name", "version", "models_", "message"),
    [
        ("Bad-Name", "1", (), "not snake_case"),
        ("fine", "", (), "no version"),
        ("fine", "1", ("no_such_model",), "unknown models"),
    ],
)
def test_malformed_entries_are_refused(
    name: str, version: str, models_: tuple[str, ...], message: str
) -> None:
    cls = type("Odd", (_Fake,), {"name": name, "version": version})
    with pytest.raises(DetectorRegistryError, match=message):
        validate([DetectorEntry(cls, models_, "odd")])


def test_describe_reports_each_detector_and_its_models(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = describe()
    assert [r["name"] for r in rows] == [e.cls.name for e in DETECTORS]
    by = {r["name"]: r for r in rows}
    for row in rows:
        assert {"name", "version", "role", "class", "models", "available"} <= set(row)
        for m in row["models"]:
            assert m["name"] in models.MODELS
    # SSCD ships in a package here: present and verified against its pin.
    sscd = {m["name"]: m for m in by["sscd"]["models"]}
    assert sscd["sscd"]["present"] and by["sscd"]["available"]
    assert by["prompt_text"]["available"] and by["prompt_text"]["models"] == []

    # An operator model that is not configured makes its detector unavailable, with the reason.
    monkeypatch.delenv("RIGHTSGATE_MODEL_OPEN_CLIP", raising=False)
    clip = {r["name"]: r for r in describe()}["open_clip"]
    assert clip["available"] is False
    assert "RIGHTSGATE_MODEL_OPEN_CLIP" in clip["models"][0]["problem"]


def test_unknown_name_lookup() -> None:
    with pytest.raises(KeyError, match="no detector named 'nope'"):
        by_name("nope")
    assert registry.by_name("copy").__name__ == "CopyDetector"
