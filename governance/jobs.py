"""Timed jobs: reinstatements whose counter-notice period has passed, and webhook deliveries due for a retry.

``rightsgate jobs run-due`` runs them once; the server runs them in a background thread every
``RIGHTSGATE_JOBS_INTERVAL_S`` seconds (0 turns that off).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from governance.runtime import Runtime
from governance.services import notices

log = logging.getLogger("rightsgate.jobs")


def run_due(rt: Runtime, *, now: datetime | None = None) -> dict[str, int]:
    with rt.session() as s:
        reinstated = notices.run_due(s, rt.log, now=now)
    report = {"reinstated": len(reinstated.reinstated)}
    from governance.services import webhooks

    report["webhooks_delivered"], report["webhooks_failed"] = webhooks.deliver_due(rt, now=now)
    return report


class BackgroundJobs:
    """Runs ``run_due`` every ``interval`` seconds until stopped; one failure never stops the loop."""

    def __init__(self, rt: Runtime, interval: float) -> None:
        self.rt = rt
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rightsgate-jobs", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                run_due(self.rt)
            except Exception:
                log.exception("background jobs failed; will retry")
