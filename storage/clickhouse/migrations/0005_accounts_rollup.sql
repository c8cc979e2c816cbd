-- account_days and account_roles folded over their days: one row per tenant
-- and user (and role) once ClickHouse has merged, for what asks about now
-- (the account hygiene dashboard) rather than as of a day (scheduled rules,
-- which backtest as of past days, read the per-day tables). The same views
-- feed them, without the day. Every aggregate is a min, max or argMax, so the copy below and an
-- event counted by both it and a view change nothing.

-- The columns are listed, not copied (AS account_days): current ClickHouse
-- copies the source's PARTITION BY with them (18.16 does not), and rows of a
-- user in two months would then never fold; and there is no day (ClickHouse
-- 26 refuses a column of an AggregatingMergeTree that is neither key nor
-- measure). Databases made before keep a day column, which nothing reads.
CREATE TABLE IF NOT EXISTS {{.Database}}.accounts (
    tenant String,
    user_id String,
    {{template "account_columns" .}}
) ENGINE = AggregatingMergeTree()
ORDER BY (tenant, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.accounts_actor_mv TO {{.Database}}.accounts AS
{{template "actor_accounts" .}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.accounts_target_mv TO {{.Database}}.accounts AS
{{template "target_accounts" .}};

CREATE TABLE IF NOT EXISTS {{.Database}}.accounts_roles (
    tenant String,
    user_id String,
    role String,
    kind String,
    {{template "role_columns" .}}
) ENGINE = AggregatingMergeTree()
ORDER BY (tenant, user_id, role, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.accounts_roles_mv TO {{.Database}}.accounts_roles AS
{{template "roles_accounts" .}};

INSERT INTO {{.Database}}.accounts (tenant, user_id, email, name, status, status_changed, created, activated, last_used, last_targeted)
SELECT tenant, user_id, email, name, status, status_changed, created, activated, last_used, last_targeted FROM {{.Database}}.account_days;

INSERT INTO {{.Database}}.accounts_roles (tenant, user_id, role, kind, held, changed)
SELECT tenant, user_id, role, kind, held, changed FROM {{.Database}}.account_roles;
