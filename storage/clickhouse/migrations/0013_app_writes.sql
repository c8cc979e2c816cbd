-- The apps' side of deprovisioning (issue 19): what each app's SCIM
-- request log shows written to each app account, so that a write after the
-- person was deprovisioned (a connector pushing a title hours after the
-- removal, an account reactivated) is found. app_writes: per tenant, app,
-- SCIM client, account and day, the account's login, the last write that
-- is not a deprovisioning and what it set. Merged across days as app_access
-- is (max, argMax with value tie-breaks). The rule app-write-after-deprovision
-- joins it to app_access by login. (The view's select is in _access.tmpl.)

CREATE TABLE IF NOT EXISTS {{.Database}}.app_writes (
    tenant String,
    app String,
    client String,
    account String,
    day Date,
    login AggregateFunction(argMax, String, Tuple(UInt64, String)),
    written AggregateFunction(max, UInt64),
    what AggregateFunction(argMax, String, Tuple(UInt64, String))
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, app, client, account, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.app_writes_mv TO {{.Database}}.app_writes AS
{{template "writes" .}}
GROUP BY tenant, app, client, account, day;

-- for each events partition
INSERT INTO {{.Database}}.app_writes {{template "writes" .}} AND toYYYYMMDD(time) = $partition
GROUP BY tenant, app, client, account, day;
