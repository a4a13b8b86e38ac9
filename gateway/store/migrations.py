"""Every schema version, in order: the SQL of each migration (run by :mod:`gateway.store.schema`).

One list on purpose, longer than our ~400-line rule: the whole history of the schema read
top to bottom, each step with the reason it was added. A released migration is never
edited; a new one is appended at the end. The rules for writing one (SQL both backends
understand) are in :mod:`gateway.store.schema`'s docstring.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: services, integrations, incidents, alerts, timeline, change events, maintenance.
    """
    CREATE TABLE services (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
        alert_creation TEXT NOT NULL DEFAULT 'create_alerts_and_incidents'
            CHECK (alert_creation IN ('create_alerts_and_incidents', 'create_incidents')),
        urgency TEXT NOT NULL DEFAULT 'high' CHECK (urgency IN ('high', 'low', 'severity_based')),
        acknowledgement_timeout INTEGER,
        auto_resolve_timeout INTEGER,
        alert_grouping TEXT,
        alert_grouping_timeout INTEGER,
        escalation_policy_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_incident_timestamp TEXT,
        deleted_at TEXT
    );
    CREATE UNIQUE INDEX services_name ON services(name) WHERE deleted_at IS NULL;

    CREATE TABLE integrations (
        id TEXT PRIMARY KEY,
        service_id TEXT NOT NULL REFERENCES services(id),
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        vendor_id TEXT,
        integration_key TEXT UNIQUE,
        integration_email TEXT UNIQUE,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        deleted_at TEXT
    );
    CREATE INDEX integrations_service ON integrations(service_id);

    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        number INTEGER NOT NULL UNIQUE,
        service_id TEXT NOT NULL REFERENCES services(id),
        integration_id TEXT REFERENCES integrations(id),
        title TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
        urgency TEXT NOT NULL CHECK (urgency IN ('high', 'low')),
        incident_key TEXT,
        alert_grouping_key TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_status_change_at TEXT NOT NULL,
        resolved_at TEXT
    );
    CREATE INDEX incidents_service_status ON incidents(service_id, status);
    CREATE INDEX incidents_created ON incidents(created_at);
    -- One open incident per key for create_incidents services (no alerts there).
    CREATE UNIQUE INDEX incidents_open_key ON incidents(integration_id, incident_key)
        WHERE status != 'resolved' AND alert_grouping_key IS NULL AND incident_key IS NOT NULL
              AND integration_id IS NOT NULL;
    CREATE INDEX incidents_grouping ON incidents(service_id, alert_grouping_key, created_at)
        WHERE status != 'resolved';

    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES incidents(id),
        service_id TEXT NOT NULL REFERENCES services(id),
        integration_id TEXT REFERENCES integrations(id),
        alert_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('triggered', 'resolved')),
        severity TEXT,
        summary TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        resolved_at TEXT
    );
    -- The dedup rule itself: at most one open alert per (integration, dedup_key).
    CREATE UNIQUE INDEX alerts_open_key ON alerts(integration_id, alert_key)
        WHERE status = 'triggered';
    CREATE INDEX alerts_incident ON alerts(incident_id);

    CREATE TABLE log_entries (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        created_at TEXT NOT NULL,
        service_id TEXT,
        integration_id TEXT,
        incident_id TEXT,
        alert_id TEXT,
        agent_type TEXT,
        agent_id TEXT,
        summary TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX log_entries_incident ON log_entries(incident_id, seq);
    CREATE INDEX log_entries_service ON log_entries(service_id, seq);

    CREATE TABLE change_events (
        id TEXT PRIMARY KEY,
        service_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        summary TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

    CREATE TABLE maintenance_windows (
        id TEXT PRIMARY KEY,
        sequence_number INTEGER NOT NULL UNIQUE,
        description TEXT,
        start_time TEXT NOT NULL,
        end_time TEXT NOT NULL,
        created_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE TABLE maintenance_window_services (
        window_id TEXT NOT NULL REFERENCES maintenance_windows(id) ON DELETE CASCADE,
        service_id TEXT NOT NULL REFERENCES services(id),
        PRIMARY KEY (window_id, service_id)
    );
    CREATE INDEX maintenance_by_service ON maintenance_window_services(service_id);
    """,
    # 2: REST API tokens, stored as SHA-256 digests (the token itself is shown once).
    """
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        last4 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
    );
    """,
    # 3: who created a maintenance window (the REST ``From`` address or the CLI user).
    """
    ALTER TABLE maintenance_windows ADD COLUMN created_by TEXT;
    """,
    # 4: retention (gateway/store/retention.py) finds what has expired by time, oldest first,
    # without scanning the tables. The partial indexes cover only the rows it prunes.
    """
    CREATE INDEX incidents_resolved ON incidents(resolved_at) WHERE status = 'resolved';
    CREATE INDEX log_entries_suppressed ON log_entries(created_at)
        WHERE type = 'suppress_log_entry';
    CREATE INDEX change_events_created ON change_events(created_at);
    """,
    # 5: the keys of deleted integrations, so no path (the configuration file's fixed keys
    # included) can ever bring one back. Only a SHA-256 digest: the key itself is a secret
    # that must not outlive its integration in the file or its backups.
    """
    CREATE TABLE deleted_integration_keys (
        key_hash TEXT PRIMARY KEY,
        integration_id TEXT NOT NULL,
        deleted_at TEXT NOT NULL
    );
    """,
    # 6: which services and integrations the configuration file declares ('config') and
    # which were made at runtime ('api'), as maintenance windows already say: the file owns
    # what it declares, and runtime edits of those are refused (gateway/core/ownership.py).
    """
    ALTER TABLE services ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
    ALTER TABLE integrations ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
    """,
    # 7: web UI sessions kept on the server (gateway/core/sessions.py), so signing out ends
    # one for good and a copied cookie stops working. The cookie holds a random id; only its
    # SHA-256 digest is stored, as for tokens. Revoking a token ends all of its sessions.
    """
    CREATE TABLE ui_sessions (
        id_hash TEXT PRIMARY KEY,
        token_id TEXT NOT NULL REFERENCES api_tokens(id),
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE INDEX ui_sessions_token ON ui_sessions(token_id) WHERE ended_at IS NULL;
    """,
    # 8: reads that used to scan every incident. Open incidents by service (the /metrics
    # gauge, service statuses and the Service Directory's counts) read only the open rows;
    # the REST sort orders for urgency and resolved_at walk an index instead of sorting a
    # month of incidents (the expressions are INCIDENT_ORDER's, word for word, or SQLite
    # will not match them; the number is the tie-break and created_at the default range's
    # filter, checked in the index). incidents_created gains the number: the default list
    # (number ascending in the last 30 days) finds its first number in it without reading
    # the table, and created_at's ties need no sort.
    """
    DROP INDEX incidents_created;
    CREATE INDEX incidents_created ON incidents(created_at, number);
    CREATE INDEX incidents_open ON incidents(service_id, status) WHERE status != 'resolved';
    CREATE INDEX incidents_by_urgency
        ON incidents((CASE urgency WHEN 'high' THEN 1 ELSE 0 END), number, created_at);
    CREATE INDEX incidents_by_resolved
        ON incidents(coalesce(resolved_at, ''), number, created_at);
    """,
    # 9: a service's suppressed events of the last day (its page shows how many and the
    # latest few) without reading the rest of its timeline or other services' suppressions.
    """
    CREATE INDEX log_entries_service_suppressed ON log_entries(service_id, created_at)
        WHERE type = 'suppress_log_entry';
    """,
    # 10: the outbound delivery queue (transactional outbox, gateway/core/outbox.py): every
    # message written in the transaction of the change that causes it, delivered by
    # gateway/outbound/engine.py. A claim is a row-level lease (claimed_by, lease_until) so
    # several daemons on one database share the queue. Ordering: a message is due only when
    # no earlier pending message has its (kind, destination, order_key): the partial indexes
    # keep the deliverers' claim query, ordering checks, overflow counts and the metrics'
    # scrape on pending (and failed) rows alone, however many delivered ones are kept.
    """
    CREATE TABLE outbox_messages (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        destination TEXT NOT NULL,
        order_key TEXT NOT NULL,
        body BLOB NOT NULL,
        headers TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        due_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'delivered', 'failed')),
        claimed_by TEXT,
        lease_until TEXT,
        last_error TEXT,
        finished_at TEXT
    );
    CREATE INDEX outbox_due ON outbox_messages(due_at, id) WHERE state = 'pending';
    CREATE INDEX outbox_order ON outbox_messages(kind, destination, order_key, id)
        WHERE state = 'pending';
    CREATE INDEX outbox_finished ON outbox_messages(finished_at) WHERE state != 'pending';
    CREATE INDEX outbox_failed ON outbox_messages(kind, destination, id) WHERE state = 'failed';

    CREATE TABLE outbox_attempts (
        message_id TEXT NOT NULL REFERENCES outbox_messages(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'drop')),
        node TEXT
    );
    CREATE INDEX outbox_attempts_message ON outbox_attempts(message_id, at, attempt);
    """,
    # 11: forwarding upstream (relay mode, gateway/core/forwarding.py): a service's targets as
    # one JSON array, read by primary key once per accepted event in the writer's
    # transaction; ``declared``: the configuration file sets them (runtime edits refused).
    """
    CREATE TABLE service_forwarding (
        service_id TEXT PRIMARY KEY REFERENCES services(id),
        targets TEXT NOT NULL DEFAULT '[]',
        forward_suppressed INTEGER NOT NULL DEFAULT 0,
        declared INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    """,
    # 12: v3 webhook subscriptions (gateway/core/webhooks.py): where incident and service events
    # are POSTed, signed with the secret (kept in clear: HMAC needs it; previous_secret while
    # a rotation overlaps; secret_declared: the configuration file sets it). consecutive_drops
    # counts failed deliveries since the last success: at 3 the subscription is
    # temporarily_disabled until enabled. source as for services.
    """
    CREATE TABLE webhook_subscriptions (
        id TEXT PRIMARY KEY,
        name TEXT,
        description TEXT,
        url TEXT NOT NULL,
        custom_headers TEXT NOT NULL DEFAULT '[]',
        events TEXT NOT NULL,
        filter_type TEXT NOT NULL
            CHECK (filter_type IN ('account_reference', 'service_reference')),
        filter_id TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        temporarily_disabled INTEGER NOT NULL DEFAULT 0,
        consecutive_drops INTEGER NOT NULL DEFAULT 0,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        secret_declared INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE INDEX webhook_subscriptions_live ON webhook_subscriptions(filter_id)
        WHERE active = 1 AND temporarily_disabled = 0;
    """,
    # people (gateway/core/users.py): users, their contact methods and notification rules, and
    # the user an API token may belong to (then REST's From defaults to them, /users/me
    # answers). email_key is the address lower-cased in Python (SQLite's lower() folds ASCII
    # only), unique among live users; a deleted user keeps its row so references name them.
    # source as for services: 'config' when the configuration file declares the row.
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        role TEXT NOT NULL,
        description TEXT,
        job_title TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE UNIQUE INDEX users_email ON users(email_key) WHERE deleted_at IS NULL;
    CREATE INDEX users_name ON users(name, id) WHERE deleted_at IS NULL;

    CREATE TABLE contact_methods (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        type TEXT NOT NULL,
        label TEXT NOT NULL,
        address TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE INDEX contact_methods_user ON contact_methods(user_id, created_at);

    CREATE TABLE notification_rules (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        contact_method_id TEXT NOT NULL REFERENCES contact_methods(id),
        start_delay_in_minutes INTEGER NOT NULL CHECK (start_delay_in_minutes >= 0),
        urgency TEXT NOT NULL CHECK (urgency IN ('high', 'low')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE INDEX notification_rules_user
        ON notification_rules(user_id, urgency, start_delay_in_minutes);
    CREATE INDEX notification_rules_contact ON notification_rules(contact_method_id);

    ALTER TABLE api_tokens ADD COLUMN user_id TEXT REFERENCES users(id);
    """,
    # on-call schedules (gateway/core/schedules.py; the arithmetic is gateway/core/oncall.py):
    # a schedule, its layers in order (``position``: a later layer wins where it has someone;
    # ``users`` a JSON array of user ids in turn order, ``restrictions`` a JSON array of
    # PagerDuty restriction objects) and its overrides. Times are ISO UTC text; ``starts_at``
    # / ``ends_at`` because ``end`` is a reserved word in SQL. source as for services.
    """
    CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT,
        time_zone TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE INDEX schedules_name ON schedules(name);

    CREATE TABLE schedule_layers (
        id TEXT PRIMARY KEY,
        schedule_id TEXT NOT NULL REFERENCES schedules(id),
        position INTEGER NOT NULL,
        name TEXT,
        starts_at TEXT NOT NULL,
        ends_at TEXT,
        rotation_virtual_start TEXT NOT NULL,
        rotation_turn_length_seconds INTEGER NOT NULL,
        users TEXT NOT NULL,
        restrictions TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX schedule_layers_schedule ON schedule_layers(schedule_id, position);

    CREATE TABLE schedule_overrides (
        id TEXT PRIMARY KEY,
        schedule_id TEXT NOT NULL REFERENCES schedules(id),
        user_id TEXT NOT NULL,
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX schedule_overrides_schedule ON schedule_overrides(schedule_id, ends_at);
    """,
    # notifications sent to people (gateway/core/notifications.py), one row per message, written
    # with its notify_log_entry and its outbox message in one transaction: GET /notifications
    # pages them by time through notifications_started without decoding log entries, and
    # they stay listable after the outbox's delivered rows are removed. user_name and address
    # are kept as sent: the list says who was told where, even after the user changes.
    """
    CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        started_at TEXT NOT NULL,
        address TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_name TEXT,
        contact_method_id TEXT,
        contact_method_type TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        service_id TEXT,
        log_entry_id TEXT NOT NULL,
        message_id TEXT
    );
    CREATE INDEX notifications_started ON notifications(started_at, id);
    CREATE INDEX notifications_incident ON notifications(incident_id);
    """,
    # Durable timers (gateway/core/timers.py): every due action (an acknowledgement timeout,
    # an auto-resolution, a snooze's end; later escalations and notifications) is a row
    # written in the transaction of the change that schedules it, and deleted in the
    # transaction that fires it. A claim is a row-level lease (claimed_by, lease_until), as
    # the outbox's. ``timers_due`` serves the scheduler's "earliest due" and claim queries
    # in (due_at, id) order; claimed rows are few and transient (a fired row is deleted), so
    # the index covers all rows and one query also finds lapsed leases.
    # ``timers_incident`` serves cancelling an incident's timers (resolve cancels them all);
    # ``timers_kind`` the metrics' pending count per kind, an index walk (8 ms at 100,000
    # rows) instead of a scan and sort of the table (63 ms).
    """
    CREATE TABLE timers (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        incident_id TEXT,
        due_at TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        lease_until TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX timers_due ON timers(due_at, id);
    CREATE INDEX timers_incident ON timers(incident_id, kind) WHERE incident_id IS NOT NULL;
    CREATE INDEX timers_kind ON timers(kind);
    """,
    # GET /incidents?incident_key= (PagerDuty's rule: the incident's own key or any of its
    # alerts' alert_key) scanned every incident and probed each one's alerts: no index had
    # either key first (alerts_open_key holds open alerts only, behind the integration).
    # alerts_key finds every incident that has alerts: the incident's key is its first
    # alert's (rules._incident_for_new_alert), and only such incidents have an
    # alert_grouping_key. incidents_key holds the others (incident-only services, REST
    # POST /incidents), so a new v2 alert costs one index write, not two (v2 ingest A/B in
    # bench/README.md, "the page budget, continued"). log_entries_not_overview: the
    # is_overview=true total is every entry less these few (gateway/store/account_log.py
    # repeats the condition word for word); overview entries, nearly all, never write to it.
    """
    CREATE INDEX incidents_key ON incidents(incident_key) WHERE alert_grouping_key IS NULL;
    CREATE INDEX alerts_key ON alerts(alert_key);
    CREATE INDEX log_entries_not_overview ON log_entries(seq)
        WHERE type NOT IN ('trigger_log_entry', 'acknowledge_log_entry', 'resolve_log_entry',
            'suppress_log_entry');
    """,
    # escalation policies (gateway/core/escalation_policies.py): ordered rules, each with
    # ordered targets (a user or a schedule by id; their existence is the core's check).
    # ``source`` as for services. The upgrade gives every service a policy that exists: one
    # "Default" policy with no rules (id PDEFALT, made here because SQL cannot ask Python;
    # also on a fresh database, where a service created without a policy gets it), and one
    # "Imported <id>" policy, with no rules, for each distinct free-text
    # escalation_policy_id a live service had, keeping that id so a client that stored it
    # still finds it. Services with none, or deleted ones with an unknown id, get Default.
    # services.escalation_policy_declared: the configuration file sets the service's policy.
    """
    CREATE TABLE escalation_policies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT,
        num_loops INTEGER NOT NULL DEFAULT 0,
        on_call_handoff_notifications TEXT NOT NULL DEFAULT 'if_has_services',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE UNIQUE INDEX escalation_policies_name ON escalation_policies(name);

    CREATE TABLE escalation_rules (
        id TEXT PRIMARY KEY,
        policy_id TEXT NOT NULL REFERENCES escalation_policies(id),
        position INTEGER NOT NULL,
        escalation_delay_in_minutes INTEGER NOT NULL,
        assignment_strategy TEXT NOT NULL DEFAULT 'assign_to_everyone'
    );
    CREATE UNIQUE INDEX escalation_rules_policy ON escalation_rules(policy_id, position);

    CREATE TABLE escalation_targets (
        rule_id TEXT NOT NULL REFERENCES escalation_rules(id),
        position INTEGER NOT NULL,
        target_type TEXT NOT NULL CHECK (target_type IN ('user', 'schedule')),
        target_id TEXT NOT NULL,
        PRIMARY KEY (rule_id, position)
    );
    CREATE INDEX escalation_targets_target ON escalation_targets(target_type, target_id);
    CREATE INDEX services_escalation_policy ON services(escalation_policy_id);
    ALTER TABLE services ADD COLUMN escalation_policy_declared INTEGER NOT NULL DEFAULT 0;

    INSERT INTO escalation_policies (id, name, description, created_at, updated_at)
    VALUES ('PDEFALT', 'Default', 'Created by the upgrade to escalation policies',
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

    INSERT INTO escalation_policies (id, name, description, created_at, updated_at)
    SELECT DISTINCT escalation_policy_id, 'Imported ' || escalation_policy_id,
           'Created by the upgrade from a service''s escalation policy id',
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM services
    WHERE deleted_at IS NULL AND escalation_policy_id IS NOT NULL
      AND trim(escalation_policy_id) <> '' AND escalation_policy_id <> 'PDEFALT';

    UPDATE services SET escalation_policy_id = 'PDEFALT'
    WHERE escalation_policy_id IS NULL
       OR escalation_policy_id NOT IN (SELECT id FROM escalation_policies);
    """,
    # The escalation engine: who an incident is assigned to, where it is on its policy,
    # and each round-robin rule's turn. Incidents from before start with no row here: the
    # engine acts only on incidents opened (or returned to triggered) from now on.
    """
    CREATE TABLE incident_assignments (
        incident_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        PRIMARY KEY (incident_id, user_id)
    );
    CREATE INDEX incident_assignments_user ON incident_assignments(user_id, incident_id);

    CREATE TABLE incident_escalations (
        incident_id TEXT PRIMARY KEY,
        escalation_policy_id TEXT NOT NULL,
        escalation_level INTEGER NOT NULL,
        escalation_loop INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE escalation_rule_turns (
        rule_id TEXT PRIMARY KEY,
        next_target INTEGER NOT NULL
    );
    """,
    # Notification rules get PagerDuty's ``type``: every rule so far is an
    # ``assignment_notification_rule``; ``status_change_notification_rule`` notifies a user
    # when a high-urgency incident assigned to them is acknowledged, escalated away from
    # them or resolved (gateway/core/status_notifications.py). escalation_backfill: the open
    # incidents the escalation upgrade left unassigned (no assignee, no escalation state),
    # which the daemon assigns once, at its next start, through the escalation engine
    # (gateway/core/escalation_backfill.py), then forgets; a row per incident makes that
    # once, also across restarts and several nodes.
    """
    ALTER TABLE notification_rules
        ADD COLUMN type TEXT NOT NULL DEFAULT 'assignment_notification_rule';

    CREATE TABLE escalation_backfill (
        incident_id TEXT PRIMARY KEY
    );
    INSERT INTO escalation_backfill (incident_id)
    SELECT id FROM incidents
    WHERE status IN ('triggered', 'acknowledged')
      AND id NOT IN (SELECT incident_id FROM incident_escalations)
      AND id NOT IN (SELECT incident_id FROM incident_assignments);
    """,
    # Secrets every node of one database shares, by name: the web UI's session-signing
    # key on PostgreSQL (gateway/core/sessions.py signing_key), made once by whichever node
    # starts first, so a sign-in on one node is valid on every other.
    """
    CREATE TABLE shared_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
)
