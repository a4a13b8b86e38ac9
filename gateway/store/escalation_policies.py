"""The SQL of escalation policies, their rules and targets: the rows, nothing of their rules.

What is valid (targets that exist, delays, a policy still in use) is
:mod:`gateway.core.escalation_policies`'s. A policy is read whole (its rules in order, each
with its targets in order) in three statements whatever its size, and a list of policies
in three more, so a page of policies never costs a query per policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.domain import EscalationPolicy, EscalationRule, EscalationTarget
from gateway.store.base import ReadBase, Where, WriteBase, marks

COLS = (
    "id, name, description, num_loops, on_call_handoff_notifications, created_at, updated_at,"
    " source"
)
#: Columns a caller may set through :meth:`EscalationPolicyWrites.update_escalation_policy`.
WRITABLE = frozenset({"name", "description", "num_loops", "on_call_handoff_notifications"})

#: A rule as the core hands it to the store: id, delay, strategy, targets in order.
RuleRow = tuple[str, int, str, Sequence[EscalationTarget]]


def _where(clause: str, *params: Any) -> Where:
    where = Where()
    where.add(clause, *params)
    return where


class EscalationPolicyReads(ReadBase):
    """Looking policies up, whole."""

    def escalation_policy(self, policy_id: str) -> EscalationPolicy | None:
        """One policy with its rules and targets, or ``None``."""
        found = self._policies(_where("id = ?", policy_id))
        return found[0] if found else None

    def escalation_policy_by_name(self, name: str) -> EscalationPolicy | None:
        """The policy called exactly ``name`` (names are unique), or ``None``."""
        found = self._policies(_where("name = ?", name))
        return found[0] if found else None

    def escalation_policies(self, *, target_ids: Sequence[str] = ()) -> list[EscalationPolicy]:
        """Every policy (or those with one of ``target_ids`` as a target), by name then id."""
        where = Where()
        if target_ids:
            where.add(
                "id IN (SELECT r.policy_id FROM escalation_rules r JOIN escalation_targets t"
                f" ON t.rule_id = r.id WHERE t.target_id IN ({marks(target_ids)}))",
                *target_ids,
            )
        return self._policies(where)

    def escalation_policy_names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every policy, by name: a choice list costs one query."""
        rows = self._db.fetch_all("SELECT id, name FROM escalation_policies ORDER BY name, id")
        return [(str(i), str(n)) for i, n in rows]

    def policy_services(self, policy_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """``(id, name)`` of the live services using each of ``policy_ids``, by name."""
        found: dict[str, list[tuple[str, str]]] = {p: [] for p in policy_ids}
        if not policy_ids:
            return found
        rows = self._db.fetch_all(
            "SELECT escalation_policy_id, id, name FROM services WHERE deleted_at IS NULL"
            f" AND escalation_policy_id IN ({marks(policy_ids)}) ORDER BY name, id",
            tuple(policy_ids),
        )
        for policy_id, service_id, name in rows:
            found[policy_id].append((str(service_id), str(name)))
        return found

    def policies_targeting(self, target_type: str, target_id: str) -> list[tuple[str, str]]:
        """``(id, name)`` of the policies with this user or schedule as a target."""
        rows = self._db.fetch_all(
            "SELECT DISTINCT p.id, p.name FROM escalation_policies p"
            " JOIN escalation_rules r ON r.policy_id = p.id"
            " JOIN escalation_targets t ON t.rule_id = r.id"
            " WHERE t.target_type = ? AND t.target_id = ? ORDER BY p.name, p.id",
            (target_type, target_id),
        )
        return [(str(i), str(n)) for i, n in rows]

    def service_policy_declared(self, service_id: str) -> bool:
        """Whether the configuration file sets this service's escalation policy."""
        return bool(
            self._db.fetch_value(
                "SELECT escalation_policy_declared FROM services WHERE id = ?", (service_id,)
            )
        )

    def policy_has_levels(self, policy_id: str) -> bool:
        """Whether ``policy_id`` has at least one escalation rule: one indexed probe, what
        an event's job asks before it leaves a new incident's paging to a timer."""
        return (
            self._db.fetch_value(
                "SELECT 1 FROM escalation_rules WHERE policy_id = ? LIMIT 1", (policy_id,)
            )
            is not None
        )

    def _policies(self, where: Where) -> list[EscalationPolicy]:
        rows = self._db.fetch_all(
            f"SELECT {COLS} FROM escalation_policies{where.sql()} ORDER BY name, id",
            tuple(where.params),
        )
        if not rows:
            return []
        ids = [r[0] for r in rows]
        rules = self._rules(ids)
        return [
            EscalationPolicy(
                id=r[0],
                name=r[1],
                description=r[2],
                num_loops=int(r[3]),
                on_call_handoff_notifications=r[4],
                rules=tuple(rules.get(r[0], ())),
                created_at=r[5],
                updated_at=r[6],
                source=r[7],
            )
            for r in rows
        ]

    def _rules(self, policy_ids: Sequence[str]) -> dict[str, list[EscalationRule]]:
        rule_rows = self._db.fetch_all(
            "SELECT id, policy_id, escalation_delay_in_minutes, assignment_strategy"
            f" FROM escalation_rules WHERE policy_id IN ({marks(policy_ids)})"
            " ORDER BY policy_id, position",
            tuple(policy_ids),
        )
        if not rule_rows:
            return {}
        rule_ids = [r[0] for r in rule_rows]
        targets: dict[str, list[EscalationTarget]] = {}
        for rule_id, kind, target_id in self._db.fetch_all(
            "SELECT rule_id, target_type, target_id FROM escalation_targets"
            f" WHERE rule_id IN ({marks(rule_ids)}) ORDER BY rule_id, position",
            tuple(rule_ids),
        ):
            targets.setdefault(rule_id, []).append(EscalationTarget(kind, target_id))
        out: dict[str, list[EscalationRule]] = {}
        for rule_id, policy_id, delay, strategy in rule_rows:
            out.setdefault(policy_id, []).append(
                EscalationRule(rule_id, int(delay), tuple(targets.get(rule_id, ())), strategy)
            )
        return out


class EscalationPolicyWrites(EscalationPolicyReads, WriteBase):
    """Creating, changing and deleting policies; rules are replaced as a whole."""

    def insert_escalation_policy(self, policy_id: str, **fields: Any) -> None:
        """A new policy row (no rules yet: :meth:`replace_escalation_rules` adds them)."""
        columns = {"id": policy_id, "created_at": self.now, "updated_at": self.now, **fields}
        names = ", ".join(columns)
        self._db.execute(
            f"INSERT INTO escalation_policies ({names}) VALUES ({marks(columns)})",
            tuple(columns.values()),
        )

    def update_escalation_policy(self, policy_id: str, **fields: Any) -> None:
        """Set some of :data:`WRITABLE` (and ``updated_at``) on one policy."""
        unknown = set(fields) - WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        columns = {**fields, "updated_at": self.now}
        sets = ", ".join(f"{name} = ?" for name in columns)
        self._db.execute(
            f"UPDATE escalation_policies SET {sets} WHERE id = ?",
            (*columns.values(), policy_id),
        )

    def replace_escalation_rules(self, policy_id: str, rules: Sequence[RuleRow]) -> None:
        """Make ``rules`` (in order) the policy's whole list of rules and targets."""
        self._delete_rules(policy_id)
        self._db.execute_many(
            "INSERT INTO escalation_rules (id, policy_id, position, escalation_delay_in_minutes,"
            " assignment_strategy) VALUES (?, ?, ?, ?, ?)",
            [(rid, policy_id, n, delay, how) for n, (rid, delay, how, _) in enumerate(rules)],
        )
        self._db.execute_many(
            "INSERT INTO escalation_targets (rule_id, position, target_type, target_id)"
            " VALUES (?, ?, ?, ?)",
            [
                (rid, n, target.type, target.id)
                for rid, _, _, targets in rules
                for n, target in enumerate(targets)
            ],
        )
        self._db.execute(
            "UPDATE escalation_policies SET updated_at = ? WHERE id = ?", (self.now, policy_id)
        )

    def delete_escalation_policy(self, policy_id: str) -> None:
        """Remove a policy with its rules and targets (the core checks nothing uses it)."""
        self._delete_rules(policy_id)
        self._db.execute("DELETE FROM escalation_policies WHERE id = ?", (policy_id,))

    def set_declared_policies(self, policy_ids: Iterable[str]) -> None:
        """Mark exactly ``policy_ids`` as the configuration file's; release the others."""
        ids = sorted(set(policy_ids))
        self._db.execute("UPDATE escalation_policies SET source = 'api' WHERE source = 'config'")
        if ids:
            self._db.execute(
                f"UPDATE escalation_policies SET source = 'config' WHERE id IN ({marks(ids)})",
                tuple(ids),
            )

    def set_service_policy_declared(self, service_id: str, declared: bool) -> None:
        """Record whether the configuration file sets this service's escalation policy."""
        self._db.execute(
            "UPDATE services SET escalation_policy_declared = ? WHERE id = ?",
            (int(declared), service_id),
        )

    def _delete_rules(self, policy_id: str) -> None:
        self._db.execute(
            "DELETE FROM escalation_targets WHERE rule_id IN"
            " (SELECT id FROM escalation_rules WHERE policy_id = ?)",
            (policy_id,),
        )
        self._db.execute("DELETE FROM escalation_rules WHERE policy_id = ?", (policy_id,))
