"""The SQL of people: users, their contact methods and notification rules (no rules of theirs).

What is valid and who may change what is :mod:`gateway.core.users` and
:mod:`gateway.core.contact_methods`. A user is never deleted from the table (``deleted_at``):
tokens, timelines and policies may still name them. Contact methods and notification rules
are deleted outright; the core deletes a user's with the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.domain import ContactMethod, NotificationRule, User
from gateway.domain_people import ASSIGNMENT_RULE
from gateway.ids import new_object_id
from gateway.store.base import ReadBase, Where, WriteBase, marks

USER_COLS = (
    "id, name, email, time_zone, role, description, job_title, created_at, updated_at,"
    " deleted_at, source"
)
CM_COLS = "id, user_id, type, label, address, created_at, updated_at, source"
RULE_COLS = (
    "id, user_id, contact_method_id, start_delay_in_minutes, urgency, created_at, updated_at,"
    " source, type"
)
_RULE_COLS_R = ", ".join("r." + c.strip() for c in RULE_COLS.split(","))
_RULE_WIDTH = len(RULE_COLS.split(","))
#: A rule's columns, then its contact method's (``notification_plans``).
_PLAN_COLS = ", ".join(
    [f"r.{c.strip()}" for c in RULE_COLS.split(",")]
    + [f"c.{c.strip()}" for c in CM_COLS.split(",")]
)
#: Columns the core may set through the update methods.
USER_WRITABLE = frozenset(
    {"name", "email", "time_zone", "role", "description", "job_title", "source"}
)
CM_WRITABLE = frozenset({"type", "label", "address", "source"})
RULE_WRITABLE = frozenset(
    {"contact_method_id", "start_delay_in_minutes", "urgency", "source", "type"}
)


def email_key(email: str) -> str:
    """The form an address is unique in (case-insensitive, as PagerDuty's logins are)."""
    return email.strip().lower()


def _user(row: tuple[Any, ...]) -> User:
    return User(*row)


def _rule(row: tuple[Any, ...]) -> NotificationRule:
    return NotificationRule(row[0], row[1], row[2], int(row[3]), *row[4:])


def _padded(values: list[str]) -> list[str]:
    """``values`` padded to a power of two (repeating the last): one prepared statement per
    size class on the writer's connection, not per list length."""
    size = 2
    while size < len(values):
        size *= 2
    return [*values, *[values[-1]] * (size - len(values))]


class UserReads(ReadBase):
    """Looking people up."""

    def user(self, user_id: str, *, deleted: bool = False) -> User | None:
        """A live user by id (a deleted one too with ``deleted``), or ``None``."""
        where = "" if deleted else " AND deleted_at IS NULL"
        row = self._db.fetch_one(f"SELECT {USER_COLS} FROM users WHERE id = ?{where}", (user_id,))
        return _user(row) if row else None

    def users_by_id(self, user_ids: list[str]) -> dict[str, User]:
        """The live users among ``user_ids``, by id, in one query (a level's targets)."""
        if not user_ids:
            return {}
        padded = _padded(user_ids)
        rows = self._db.fetch_all(
            f"SELECT {USER_COLS} FROM users WHERE id IN ({marks(padded)}) AND deleted_at IS NULL",
            tuple(padded),
        )
        return {row[0]: _user(row) for row in rows}

    def user_by_email(self, email: str) -> User | None:
        """The live user with this address, whatever its case."""
        row = self._db.fetch_one(
            f"SELECT {USER_COLS} FROM users WHERE email_key = ? AND deleted_at IS NULL",
            (email_key(email),),
        )
        return _user(row) if row else None

    def users(self, *, ids: list[str] | None = None) -> list[User]:
        """Live users by name (then id); ``ids`` narrows to those ids."""
        where = Where()
        where.add("deleted_at IS NULL")
        if ids is not None:
            if not ids:
                return []
            where.within("id", ids)
        rows = self._db.fetch_all(
            f"SELECT {USER_COLS} FROM users{where.sql()} ORDER BY name, id", tuple(where.params)
        )
        return [_user(r) for r in rows]

    def live_user_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` name live users."""
        if not ids:
            return set()
        rows = self._db.fetch_all(
            f"SELECT id FROM users WHERE deleted_at IS NULL AND id IN ({marks(ids)})", tuple(ids)
        )
        return {r[0] for r in rows}

    def contact_methods(self, user_id: str) -> list[ContactMethod]:
        """A user's contact methods, oldest first."""
        rows = self._db.fetch_all(
            f"SELECT {CM_COLS} FROM contact_methods WHERE user_id = ? ORDER BY created_at, id",
            (user_id,),
        )
        return [ContactMethod(*r) for r in rows]

    def contact_method(self, method_id: str) -> ContactMethod | None:
        """One contact method by id, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {CM_COLS} FROM contact_methods WHERE id = ?", (method_id,)
        )
        return ContactMethod(*row) if row else None

    def notification_rules(
        self, user_id: str, *, urgency: str | None = None, type: str | None = None
    ) -> list[NotificationRule]:
        """A user's notification rules (of one urgency with ``urgency``, of one ``type``), by
        delay then age."""
        where = Where()
        where.add("user_id = ?", user_id)
        if urgency is not None:
            where.add("urgency = ?", urgency)
        if type is not None:
            where.add("type = ?", type)
        rows = self._db.fetch_all(
            f"SELECT {RULE_COLS} FROM notification_rules{where.sql()}"
            " ORDER BY start_delay_in_minutes, created_at, id",
            tuple(where.params),
        )
        return [_rule(r) for r in rows]

    def notification_plans(
        self, user_ids: list[str], urgency: str
    ) -> dict[str, list[tuple[NotificationRule, ContactMethod | None]]]:
        """Each user's assignment rules for ``urgency`` with their contact methods (``None``:
        gone), in :meth:`notification_rules`' order: one query for a level's assignees,
        where escalation asked twice per person."""
        found: dict[str, list[tuple[NotificationRule, ContactMethod | None]]] = {
            u: [] for u in user_ids
        }
        if not user_ids:
            return found
        padded = _padded(user_ids)
        rows = self._db.fetch_all(
            f"SELECT {_PLAN_COLS} FROM notification_rules r"
            " LEFT JOIN contact_methods c ON c.id = r.contact_method_id"
            f" WHERE r.user_id IN ({marks(padded)}) AND r.urgency = ? AND r.type = ?"
            " ORDER BY r.user_id, r.start_delay_in_minutes, r.created_at, r.id",
            (*padded, urgency, ASSIGNMENT_RULE),
        )
        width = _RULE_WIDTH
        for row in rows:
            method = ContactMethod(*row[width:]) if row[width] is not None else None
            found[row[1]].append((_rule(row[:width]), method))
        return found

    def notification_rule(self, rule_id: str) -> NotificationRule | None:
        """One notification rule by id, or ``None``."""
        row = self._db.fetch_one(
            f"SELECT {RULE_COLS} FROM notification_rules WHERE id = ?", (rule_id,)
        )
        return _rule(row) if row else None

    def contact_counts(self, user_ids: list[str]) -> dict[str, tuple[int, int]]:
        """``{user id: (contact methods, notification rules)}`` for ``user_ids``, two queries
        for any number of users (a list page must not ask twice per row)."""
        counts = {u: [0, 0] for u in user_ids}
        if not user_ids:
            return {}
        for column, table in ((0, "contact_methods"), (1, "notification_rules")):
            rows = self._db.fetch_all(
                f"SELECT user_id, count(*) FROM {table} WHERE user_id IN ({marks(user_ids)})"
                " GROUP BY user_id",
                tuple(user_ids),
            )
            for user_id, count in rows:
                counts[user_id][column] = int(count)
        return {u: (c[0], c[1]) for u, c in counts.items()}

    def contact_details(
        self, user_ids: list[str]
    ) -> dict[str, tuple[list[ContactMethod], list[NotificationRule]]]:
        """``{user id: (contact methods, notification rules)}`` for ``user_ids``, ordered as
        :meth:`contact_methods` and :meth:`notification_rules` order them: two queries for
        any number of users (a page of incidents with ``include[]=assignees``)."""
        found: dict[str, tuple[list[ContactMethod], list[NotificationRule]]] = {
            u: ([], []) for u in user_ids
        }
        if not user_ids:
            return found
        params = tuple(user_ids)
        for row in self._db.fetch_all(
            f"SELECT {CM_COLS} FROM contact_methods WHERE user_id IN ({marks(user_ids)})"
            " ORDER BY created_at, id",
            params,
        ):
            method = ContactMethod(*row)
            found[method.user_id][0].append(method)
        for row in self._db.fetch_all(
            f"SELECT {RULE_COLS} FROM notification_rules WHERE user_id IN ({marks(user_ids)})"
            " ORDER BY start_delay_in_minutes, created_at, id",
            params,
        ):
            rule = _rule(row)
            found[rule.user_id][1].append(rule)
        return found

    def assignee_rules(self, incident_id: str, type: str) -> list[NotificationRule]:
        """The notification rules of ``type`` of the users the incident is assigned to (one
        query: most assignees have none, and an acknowledgement must not read each)."""
        rows = self._db.fetch_all(
            f"SELECT {_RULE_COLS_R}"
            " FROM incident_assignments a JOIN notification_rules r ON r.user_id = a.user_id"
            " WHERE a.incident_id = ? AND r.type = ? ORDER BY a.assigned_at, r.created_at, r.id",
            (incident_id, type),
        )
        return [_rule(r) for r in rows]

    def rules_using(self, method_id: str) -> list[NotificationRule]:
        """The notification rules that use a contact method."""
        rows = self._db.fetch_all(
            f"SELECT {RULE_COLS} FROM notification_rules WHERE contact_method_id = ?"
            " ORDER BY created_at, id",
            (method_id,),
        )
        return [_rule(r) for r in rows]


class UserWrites(UserReads, WriteBase):
    """Creating, changing and deleting people and their contact details."""

    def insert_user(
        self,
        *,
        name: str,
        email: str,
        time_zone: str,
        role: str,
        description: str | None,
        job_title: str | None,
        source: str = "api",
    ) -> User:
        """Store a new user (the core has checked the address is free)."""
        user_id = new_object_id()
        self._db.execute(
            "INSERT INTO users (id, name, email, email_key, time_zone, role, description,"
            " job_title, created_at, updated_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user_id, name, email, email_key(email), time_zone, role, description, job_title,
                self.now, self.now, source,
            ),
        )  # fmt: skip
        return User(
            user_id, name, email, time_zone, role, description, job_title, self.now, self.now,
            None, source,
        )  # fmt: skip

    def update_user(self, user_id: str, **columns: Any) -> None:
        """Set some of :data:`USER_WRITABLE` on a live user."""
        unknown = set(columns) - USER_WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        if "email" in columns:
            columns["email_key"] = email_key(columns["email"])
        sets = ", ".join(f"{c} = ?" for c in columns)
        self._db.execute(
            f"UPDATE users SET {sets}, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
            (*columns.values(), self.now, user_id),
        )

    def delete_user(self, user_id: str) -> None:
        """Mark a user deleted, removing their notification rules and contact methods and
        unlinking their API tokens (the tokens stay valid as account tokens)."""
        self._db.execute("DELETE FROM notification_rules WHERE user_id = ?", (user_id,))
        self._db.execute("DELETE FROM contact_methods WHERE user_id = ?", (user_id,))
        self._db.execute("UPDATE api_tokens SET user_id = NULL WHERE user_id = ?", (user_id,))
        self._db.execute(
            "UPDATE users SET deleted_at = ?, updated_at = ? WHERE id = ?",
            (self.now, self.now, user_id),
        )

    def insert_contact_method(
        self, *, user_id: str, type: str, label: str, address: str, source: str = "api"
    ) -> ContactMethod:
        """Store a new contact method of a user."""
        method_id = new_object_id()
        self._db.execute(
            "INSERT INTO contact_methods (id, user_id, type, label, address, created_at,"
            " updated_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (method_id, user_id, type, label, address, self.now, self.now, source),
        )
        return ContactMethod(method_id, user_id, type, label, address, self.now, self.now, source)

    def update_contact_method(self, method_id: str, **columns: Any) -> None:
        """Set some of :data:`CM_WRITABLE` on a contact method."""
        unknown = set(columns) - CM_WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        sets = ", ".join(f"{c} = ?" for c in columns)
        self._db.execute(
            f"UPDATE contact_methods SET {sets}, updated_at = ? WHERE id = ?",
            (*columns.values(), self.now, method_id),
        )

    def delete_contact_method(self, method_id: str) -> None:
        """Delete a contact method (the core has checked no rule uses it)."""
        self._db.execute("DELETE FROM contact_methods WHERE id = ?", (method_id,))

    def insert_notification_rule(
        self,
        *,
        user_id: str,
        contact_method_id: str,
        start_delay_in_minutes: int,
        urgency: str,
        source: str = "api",
        type: str = ASSIGNMENT_RULE,
    ) -> NotificationRule:
        """Store a new notification rule of a user."""
        rule_id = new_object_id()
        self._db.execute(
            "INSERT INTO notification_rules (id, user_id, contact_method_id,"
            " start_delay_in_minutes, urgency, created_at, updated_at, source, type)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rule_id, user_id, contact_method_id, start_delay_in_minutes, urgency, self.now,
                self.now, source, type,
            ),
        )  # fmt: skip
        return NotificationRule(
            rule_id, user_id, contact_method_id, start_delay_in_minutes, urgency, self.now,
            self.now, source, type,
        )  # fmt: skip

    def update_notification_rule(self, rule_id: str, **columns: Any) -> None:
        """Set some of :data:`RULE_WRITABLE` on a notification rule."""
        unknown = set(columns) - RULE_WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        sets = ", ".join(f"{c} = ?" for c in columns)
        self._db.execute(
            f"UPDATE notification_rules SET {sets}, updated_at = ? WHERE id = ?",
            (*columns.values(), self.now, rule_id),
        )

    def delete_notification_rule(self, rule_id: str) -> None:
        """Delete a notification rule."""
        self._db.execute("DELETE FROM notification_rules WHERE id = ?", (rule_id,))

    def set_declared_people(
        self, user_ids: Iterable[str], method_ids: Iterable[str], rule_ids: Iterable[str]
    ) -> None:
        """Mark exactly these users, contact methods and rules as declared by the file
        ('config'); the others become 'api'."""
        for table, ids in (
            ("users", user_ids),
            ("contact_methods", method_ids),
            ("notification_rules", rule_ids),
        ):
            self._db.execute(f"UPDATE {table} SET source = 'api' WHERE source = 'config'")
            self._db.execute_many(
                f"UPDATE {table} SET source = 'config' WHERE id = ?", ((i,) for i in ids)
            )

    def set_token_user(self, token_id: str, user_id: str | None) -> bool:
        """Link a live token to a user (``None``: unlink); ``False`` when no live token has it."""
        changed = self._db.execute(
            "UPDATE api_tokens SET user_id = ? WHERE id = ? AND revoked_at IS NULL",
            (user_id, token_id),
        )
        return changed == 1
