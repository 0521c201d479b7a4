"""One learner per model: the learner holds the lease ``leases/online-<model>.lease`` in the
artifact store (:mod:`conveyor.stack.leases`) while it runs, renewed every third of its
length (:class:`~conveyor.stack.locks.Heartbeat`). A second learner of the same model
refuses to start (:class:`~conveyor.core.errors.LearnerBusyError`, naming the holder); a
learner whose lease was taken over (it stalled past the expiry) stops at its next batch."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from conveyor.core.errors import LearnerBusyError, LeaseHeld
from conveyor.stack.leases import Lease, Leases
from conveyor.stack.locks import Heartbeat

log = logging.getLogger("conveyor.online")


def lease_name(model: str) -> str:
    return f"online-{model}"


class LearnerLease:
    def __init__(self, artifact_store: str, model: str, ttl_s: float) -> None:
        self.leases = Leases(artifact_store)
        self.model = model
        self.ttl_s = ttl_s
        self._lease: Lease | None = None
        self._heartbeat: Heartbeat | None = None

    def acquire(self) -> None:
        try:
            self._lease = self.leases.acquire(lease_name(self.model), datetime.now(UTC), self.ttl_s,
                                              f"conveyor learn {self.model}")
        except LeaseHeld as held:
            raise LearnerBusyError(
                f"another learner of {self.model!r} is running: {held.description}",
                hint="one learner per model (a second one would fork its state): stop that one first, "
                "or wait for its lease to expire if it was killed",
            ) from None
        lease = self._lease

        def renew() -> bool:
            return lease.renew(datetime.now(UTC), self.ttl_s)

        def failed(exc: Exception) -> None:
            log.warning("renewing the learner lease of %s failed (%s); retrying", self.model, exc)

        self._heartbeat = Heartbeat(renew, self.ttl_s / 3, failed, name="conveyor-learner-lease")
        self._heartbeat.start()

    @property
    def lost(self) -> bool:
        return self._heartbeat is not None and self._heartbeat.lost

    def release(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop(5)
        if self._lease is not None:
            self._lease.release()
            self._lease = None
