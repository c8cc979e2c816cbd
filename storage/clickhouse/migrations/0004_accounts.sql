-- What detection learns from and asks of the history.
--
-- Account state, per tenant, user and day: what that day's events say about
-- the user (their latest email and name, status and when it changed, when
-- they were created, first activated or used, last used as actor, last
-- touched as a target), in aggregate states that merge across days. A
-- query merges the days up to a date to get the state as of that date,
-- which is what lets backtest ask "which accounts were stale on 1 March".
-- Every aggregate is a min, a max or an argMax, so an event delivered (or
-- imported) twice changes nothing; ties (two events of one millisecond)
-- are broken by value (status: by lifecycle order), so the result does not
-- depend on the order parts merge in. Times are milliseconds since the epoch;
-- 0 is "never" for maxima and 18446744073709551615 for minima (a min over
-- no event). Accounts are the identity provider's: SCIM request logs show
-- an app's copies under the app's ids, whose use scimwatch does not see.
-- The views use no subquery: materialized views on 18.16 lose a
-- subquery's aliases.

-- The selects of the views, also run once over the events already stored.
-- (in _accounts.tmpl: actor_days, target_days, roles, tenants)

CREATE TABLE IF NOT EXISTS {{.Database}}.account_days (
    tenant String,
    user_id String,
    day Date,
    {{template "account_columns" .}}
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, user_id, day);

-- A user's own successful actions (a login, or any change they made) are
-- use: the first activates the account, the last is its last use.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.account_days_actor_mv TO {{.Database}}.account_days AS
{{template "actor_days" .}};

-- What was done to a user: lifecycle actions set its status.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.account_days_target_mv TO {{.Database}}.account_days AS
{{template "target_days" .}};

-- Roles and groups held, per tenant, user, role (or group) and day: held
-- is 1 after a grant or add, 0 after a revoke or remove, the latest wins.
-- Role and group names are as the events show them (the privileged lists
-- are lower-case: compare lower(role)).
CREATE TABLE IF NOT EXISTS {{.Database}}.account_roles (
    tenant String,
    user_id String,
    role String,
    kind String,
    day Date,
    {{template "role_columns" .}}
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, user_id, role, kind, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.account_roles_mv TO {{.Database}}.account_roles AS
{{template "roles" .}};

-- The tenants the events name, with their first and last event: the
-- tenants scheduled rules run for.
CREATE TABLE IF NOT EXISTS {{.Database}}.tenants (
    tenant String,
    first AggregateFunction(min, DateTime),
    last AggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree()
ORDER BY tenant;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.tenants_mv TO {{.Database}}.tenants AS
{{template "tenants" .}};

-- The events stored before the views existed. Running this twice (two
-- instances migrating at once) changes nothing: the aggregates are
-- idempotent.
INSERT INTO {{.Database}}.account_days
{{template "actor_days" .}};

INSERT INTO {{.Database}}.account_days
{{template "target_days" .}};

INSERT INTO {{.Database}}.account_roles
{{template "roles" .}};

INSERT INTO {{.Database}}.tenants
{{template "tenants" .}};

-- Where each detector's stream had got to (the time of the last event its
-- ordered rules evaluated): a restart learns from the history up to there,
-- and no further.
CREATE TABLE IF NOT EXISTS {{.Database}}.detect_checkpoints (
    name String,
    progress_ms UInt64,
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY name;

-- When each key of a scheduled rule was last reported: reported once per
-- period, across restarts.
CREATE TABLE IF NOT EXISTS {{.Database}}.scheduled_reports (
    rule String,
    tenant String,
    key String,
    reported_ms UInt64
) ENGINE = ReplacingMergeTree(reported_ms)
ORDER BY (rule, tenant, key);
