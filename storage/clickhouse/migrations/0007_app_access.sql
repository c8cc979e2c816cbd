-- The access map. app_access: per tenant, user, app and day, what that day's
-- lifecycle events say about the user's access to the app (app '' is the
-- identity provider itself): when the app was first and last given the user,
-- when access was last removed (for app '': when the identity provider
-- deactivated, suspended or deleted the user; provisioned_last: when it last
-- created or reactivated them), and the last failed removal with the app's
-- error. app_signins: per tenant, user, app and day, the user's last sign-in;
-- kept apart because sign-ins are most events and most users every day, and
-- the deprovisioning queries read them only for the users deactivated. Both
-- merge across days as account_days does (min, max and argMax with value
-- tie-breaks: duplicates change nothing), so a query as of a date merges the
-- days up to it. Times are milliseconds since the epoch; 0 is "never" for
-- maxima and 18446744073709551615 for minima. The deprovisioning rules,
-- `scimwatch report` and the deprovisioning dashboard read them.
-- (the views' selects are in _access.tmpl)

CREATE TABLE IF NOT EXISTS {{.Database}}.app_access (
    tenant String,
    user_id String,
    app String,
    day Date,
    email AggregateFunction(argMax, String, Tuple(UInt64, String)),
    provisioned AggregateFunction(min, UInt64),
    provisioned_last AggregateFunction(max, UInt64),
    deprovisioned AggregateFunction(max, UInt64),
    failed AggregateFunction(max, UInt64),
    failure AggregateFunction(argMax, String, Tuple(UInt64, String))
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, user_id, app, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.app_access_mv TO {{.Database}}.app_access AS
{{template "access_0007" .}}
GROUP BY tenant, user_id, app, day;

CREATE TABLE IF NOT EXISTS {{.Database}}.app_signins (
    tenant String,
    user_id String,
    app String,
    day Date,
    used AggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, user_id, app, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.app_signins_mv TO {{.Database}}.app_signins AS
{{template "signins" .}}
GROUP BY tenant, user_id, app, day;

-- The events stored before: a day at a time (all at once would hold every
-- user and day in memory). Repeats change nothing (min, max, argMax).
-- for each events partition
INSERT INTO {{.Database}}.app_access {{template "access_0007" .}} AND toYYYYMMDD(time) = $partition
GROUP BY tenant, user_id, app, day;

-- for each events partition
INSERT INTO {{.Database}}.app_signins {{template "signins" .}} AND toYYYYMMDD(time) = $partition
GROUP BY tenant, user_id, app, day;
