"""Contract tests every detector's test class inherits (after python-threatexchange's signal-type helper).

Subclass ``DetectorContract`` and implement ``make_detector``; the checks below then run for that detector.
"""

from __future__ import annotations

import re

from detectors.base import Detector, DetectorInfo


class DetectorContract:
    def make_detector(self) -> Detector:
        raise NotImplementedError

    def test_identity_is_complete(self) -> None:
        det = self.make_detector()
        info = det.info()
        assert isinstance(info, DetectorInfo)
        assert re.fullmatch(r"[a-z][a-z0-9_]*", info.name), info.name
        assert info.version
        assert info.model_id

    def test_model_id_is_stable(self) -> None:
        assert self.make_detector().model_id == self.make_detector().model_id
