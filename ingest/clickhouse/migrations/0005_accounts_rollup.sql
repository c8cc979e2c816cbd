-- account_days and account_roles folded over their days: one row per tenant
-- and user (and role) once ClickHouse has merged, for what asks about now
-- (the account hygiene dashboard) rather than as of a day (scheduled rules,
-- which backtest as of past days, read the per-day tables). The same views
-- feed them; a rolled-up row keeps some day of its user's, which means
-- nothing. Every aggregate is a min, max or argMax, so the copy below and an
-- event counted by both it and a view change nothing.

CREATE TABLE IF NOT EXISTS {{.Database}}.accounts AS {{.Database}}.account_days
ENGINE = AggregatingMergeTree()
ORDER BY (tenant, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.accounts_actor_mv TO {{.Database}}.accounts AS
{{template "actor_days" .}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.accounts_target_mv TO {{.Database}}.accounts AS
{{template "target_days" .}};

CREATE TABLE IF NOT EXISTS {{.Database}}.accounts_roles AS {{.Database}}.account_roles
ENGINE = AggregatingMergeTree()
ORDER BY (tenant, user_id, role, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.accounts_roles_mv TO {{.Database}}.accounts_roles AS
{{template "roles" .}};

INSERT INTO {{.Database}}.accounts SELECT * FROM {{.Database}}.account_days;

INSERT INTO {{.Database}}.accounts_roles SELECT * FROM {{.Database}}.account_roles;
