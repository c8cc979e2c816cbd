-- Roll-ups of the events for the dashboards' long ranges: per day (and hour)
-- counts computed from events FINAL one day partition at a time by
-- Store.Rollup, so they count each event once. rollup_days records, for each
-- day rolled up, the fingerprint of the events partition's active parts at
-- that moment (the sum of cityHash64 of their names). A dashboard reads a day
-- from the roll-ups only while the partition's parts still have that
-- fingerprint, that is while nothing was inserted into the day or merged in
-- it since; any other day it reads from events FINAL. So the roll-ups can lag
-- and never make a count wrong.
--
-- Each roll-up is replaced a day partition at a time (DROP PARTITION, then
-- INSERT ... SELECT). They are ReplacingMergeTrees keyed by every dimension,
-- read FINAL, so two instances rolling the same day at once leave one row
-- per key. The day leads every key: FINAL on 18.16 merges across partitions.

CREATE TABLE IF NOT EXISTS {{.Database}}.rollup_days (
    partition String,
    fingerprint UInt64,
    rolled_ns UInt64
) ENGINE = ReplacingMergeTree(rolled_ns)
ORDER BY partition;

CREATE TABLE IF NOT EXISTS {{.Database}}.events_hourly (
    day Date,
    hour DateTime,
    tenant String,
    source String,
    action String,
    outcome String,
    events UInt64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (tenant, hour, action, outcome, source);

CREATE TABLE IF NOT EXISTS {{.Database}}.actors_daily (
    day Date,
    tenant String,
    actor String,
    actor_type String,
    events UInt64,
    privilege_changes UInt64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (day, tenant, actor, actor_type);

CREATE TABLE IF NOT EXISTS {{.Database}}.targets_daily (
    day Date,
    tenant String,
    target String,
    events UInt64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (day, tenant, target);

CREATE TABLE IF NOT EXISTS {{.Database}}.failures_daily (
    day Date,
    tenant String,
    app String,
    failures UInt64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (day, tenant, app);
