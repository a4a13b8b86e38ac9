"""The escalation engine's SQL: incidents' assignees, their place on a policy, rule turns.

What the rows mean (who is assigned when, when an incident moves on) is
:mod:`gateway.core.escalation`'s; this module only names the statements. Three tables:
``incident_assignments`` (an incident's current assignees), ``incident_escalations``
(the policy an incident follows, its level and loop) and ``escalation_rule_turns`` (a
round-robin rule's next target).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.base import ReadBase, WriteBase, marks

#: ``(escalation_policy_id, escalation_level, escalation_loop)`` of one incident.
EscalationState = tuple[str, int, int]


class EscalationReads(ReadBase):
    """Assignees and escalation state, for many incidents in one statement."""

    def incident_assignees(
        self, incident_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, str, str | None]]]:
        """``{incident id: [(user id, assigned_at, user name)…]}`` in assignment order (the
        name of a deleted user too; ``None`` for a user never stored); an incident with
        nobody assigned is absent."""
        found: dict[str, list[tuple[str, str, str | None]]] = {}
        if not incident_ids:
            return found
        rows = self._db.fetch_all(
            "SELECT a.incident_id, a.user_id, a.assigned_at, u.name FROM incident_assignments a"
            " LEFT JOIN users u ON u.id = a.user_id"
            f" WHERE a.incident_id IN ({marks(incident_ids)})"
            " ORDER BY a.incident_id, a.assigned_at, a.user_id",
            tuple(incident_ids),
        )
        for incident_id, user_id, assigned_at, name in rows:
            found.setdefault(incident_id, []).append((user_id, assigned_at, name))
        return found

    def incident_policy_refs(self, incident_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``{incident id: (policy id, name)}``: the policy each incident follows (the one
        escalation started it on, else its service's); absent when there is none."""
        if not incident_ids:
            return {}
        rows = self._db.fetch_all(
            "SELECT i.id, p.id, p.name FROM incidents i"
            " LEFT JOIN incident_escalations e ON e.incident_id = i.id"
            " JOIN services s ON s.id = i.service_id"
            " JOIN escalation_policies p"
            " ON p.id = COALESCE(e.escalation_policy_id, s.escalation_policy_id)"
            f" WHERE i.id IN ({marks(incident_ids)})",
            tuple(incident_ids),
        )
        return {r[0]: (str(r[1]), str(r[2])) for r in rows}

    def incident_escalation(self, incident_id: str) -> EscalationState | None:
        """Where an incident is on its policy, or ``None`` when the engine never took it."""
        row = self._db.fetch_one(
            "SELECT escalation_policy_id, escalation_level, escalation_loop"
            " FROM incident_escalations WHERE incident_id = ?",
            (incident_id,),
        )
        return None if row is None else (str(row[0]), int(row[1]), int(row[2]))

    def incident_escalations(self, incident_ids: Sequence[str]) -> dict[str, EscalationState]:
        """:meth:`incident_escalation` of many incidents at once (absent: none)."""
        if not incident_ids:
            return {}
        rows = self._db.fetch_all(
            "SELECT incident_id, escalation_policy_id, escalation_level, escalation_loop"
            f" FROM incident_escalations WHERE incident_id IN ({marks(incident_ids)})",
            tuple(incident_ids),
        )
        return {r[0]: (str(r[1]), int(r[2]), int(r[3])) for r in rows}

    def assigned_incident_ids(self, user_ids: Sequence[str]) -> list[str]:
        """Ids of the incidents assigned to any of ``user_ids`` (the ``user_ids[]`` filter)."""
        if not user_ids:
            return []
        rows = self._db.fetch_all(
            "SELECT DISTINCT incident_id FROM incident_assignments"
            f" WHERE user_id IN ({marks(user_ids)}) ORDER BY incident_id",
            tuple(user_ids),
        )
        return [row[0] for row in rows]

    def escalation_backfill(self, limit: int) -> list[str]:
        """Up to ``limit`` incidents the upgrade left for the engine to assign (oldest id
        first): the ``escalation_backfill`` rows."""
        rows = self._db.fetch_all(
            "SELECT incident_id FROM escalation_backfill ORDER BY incident_id LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]

    def rule_turn(self, rule_id: str) -> int:
        """The index of a round-robin rule's next target (0 for a rule never used)."""
        value = self._db.fetch_value(
            "SELECT next_target FROM escalation_rule_turns WHERE rule_id = ?", (rule_id,)
        )
        return 0 if value is None else int(value)


class EscalationWrites(EscalationReads, WriteBase):
    """Replacing assignees, moving an incident along its policy, taking a turn."""

    def replace_incident_assignments(
        self, incident_id: str, user_ids: Sequence[str], *, fresh: bool = False
    ) -> None:
        """Make ``user_ids`` (in order, each once) the incident's assignees, as of now
        (``fresh``: a new incident, nobody to unassign)."""
        if not fresh:
            self._db.execute(
                "DELETE FROM incident_assignments WHERE incident_id = ?", (incident_id,)
            )
        if user_ids:
            self._db.execute_many(
                "INSERT INTO incident_assignments (incident_id, user_id, assigned_at)"
                " VALUES (?, ?, ?)",
                [(incident_id, user_id, self.now) for user_id in dict.fromkeys(user_ids)],
            )

    def set_incident_escalation(
        self, incident_id: str, policy_id: str, level: int, loop: int, *, fresh: bool = False
    ) -> None:
        """Record that the incident is at ``level`` (1-based) of loop ``loop`` of a policy
        (``fresh``: a new incident, no row yet)."""
        changed = 0
        if not fresh:
            changed = self._db.execute(
                "UPDATE incident_escalations SET escalation_policy_id = ?, escalation_level = ?,"
                " escalation_loop = ?, updated_at = ? WHERE incident_id = ?",
                (policy_id, level, loop, self.now, incident_id),
            )
        if not changed:
            self._db.execute(
                "INSERT INTO incident_escalations (incident_id, escalation_policy_id,"
                " escalation_level, escalation_loop, updated_at) VALUES (?, ?, ?, ?, ?)",
                (incident_id, policy_id, level, loop, self.now),
            )

    def set_rule_turn(self, rule_id: str, next_target: int) -> None:
        """Store the index of a round-robin rule's next target."""
        changed = self._db.execute(
            "UPDATE escalation_rule_turns SET next_target = ? WHERE rule_id = ?",
            (next_target, rule_id),
        )
        if not changed:
            self._db.execute(
                "INSERT INTO escalation_rule_turns (rule_id, next_target) VALUES (?, ?)",
                (rule_id, next_target),
            )

    def forget_escalation_backfill(self, incident_id: str) -> bool:
        """Take an incident off ``escalation_backfill``; ``False`` when another writer took it
        first (two nodes starting together on one PostgreSQL database)."""
        done = self._db.execute(
            "DELETE FROM escalation_backfill WHERE incident_id = ?", (incident_id,)
        )
        return done == 1

    def delete_incident_escalation(self, incident_id: str) -> None:
        """Forget an incident's assignees and escalation state (retention)."""
        self._db.execute("DELETE FROM incident_assignments WHERE incident_id = ?", (incident_id,))
        self._db.execute("DELETE FROM incident_escalations WHERE incident_id = ?", (incident_id,))
