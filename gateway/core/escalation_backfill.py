"""The upgrade to escalation, finished: open incidents it left unassigned follow their policy.

The migration that brought escalation (``incident_assignments`` and its tables) acted only
on incidents opened from then on: one triggered or acknowledged at the upgrade had no
assignee and never escalated. A later migration lists those incidents in
``escalation_backfill`` (open, no assignee, no escalation state); at its next start, after
provisioning (so the policies the configuration file declares have their levels), the
daemon runs :func:`backfill`, which hands each to the escalation engine's own
:func:`gateway.core.escalation.start`, exactly as if it had just been opened:

- **triggered**: assigned to level 1 of its service's policy, an ``assign_log_entry``,
  notified by the assignees' rules, and (high urgency) the level's delay starts now;
- **acknowledged**: assigned to level 1, nobody notified, nothing escalates (as an
  incident reopened as acknowledged); if its acknowledgement times out, the assignees are
  notified then;
- resolved since, or assigned meanwhile (a person reassigned it): left alone;
- a policy without levels (the Default policy as the upgrade made it): nobody, as for a
  new incident.

Each incident's row is deleted in the transaction that assigns it, so a restart never does
it twice, a crash before the commit does it at the next start, and of two nodes starting
on one database only the one whose delete takes the row assigns it.
"""

from __future__ import annotations

import structlog

from gateway.core import escalation
from gateway.core.escalation_targets import Memo
from gateway.store import Tx

__all__ = ["BATCH", "backfill"]

log = structlog.get_logger("gateway.escalation")

#: Incidents per write job: a large backlog must not hold the writer in one transaction.
BATCH = 200


def backfill(tx: Tx) -> int:
    """Assign up to :data:`BATCH` of the incidents the upgrade listed; return how many were
    taken off the list (0: the list is empty, stop calling)."""
    memo = Memo()
    taken = 0
    for incident_id in tx.escalation_backfill(BATCH):
        if not tx.forget_escalation_backfill(incident_id):
            continue
        taken += 1
        incident = tx.incident(incident_id)
        if incident is None or incident.status == "resolved":
            continue
        held = tx.incident_assignees([incident.id]).get(incident.id)
        if held or tx.incident_escalation(incident.id) is not None:
            continue
        escalation.start(tx, incident, memo)
        log.info("escalation.backfilled", incident=incident.id, status=incident.status)
    return taken
