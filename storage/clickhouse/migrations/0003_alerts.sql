-- Alerting's history, in the same database as the events (dashboards join
-- them): every alert's latest state, every state it went through, what each
-- integration delivered (so a restart edits the Slack message it posted),
-- and silences. Times are kept as milliseconds since the epoch (no
-- DateTime64 on 18.16) beside a DateTime for partitions.

CREATE TABLE IF NOT EXISTS {{.Database}}.alerts (
    tenant String,
    id String,
    rule String,
    severity String,
    key String,
    group_key String,
    group_id String,
    status String,
    status_by String,
    status_comment String,
    status_at_ms UInt64,
    first DateTime,
    first_ms UInt64,
    last_ms UInt64,
    count UInt64,
    events Array(String),
    title String,
    summary String,
    description String,
    runbook String,
    tags Array(String),
    actor String,
    targets Array(String),
    resolved UInt8,
    oneshot UInt8,
    false_positive UInt8,
    observed_ms UInt64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(first)
ORDER BY (tenant, id);

-- Every state an alert went through (status changes with who and why, and
-- new counts), written by the server as alerts are: one insert per change.
CREATE TABLE IF NOT EXISTS {{.Database}}.alert_changes (
    tenant String,
    id String,
    rule String,
    status String,
    by String,
    comment String,
    at DateTime,
    at_ms UInt64,
    count UInt64,
    version UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, at, id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.alert_changes_mv TO {{.Database}}.alert_changes AS
SELECT tenant, id, rule, status, status_by AS by, status_comment AS comment, toDateTime(intDiv(status_at_ms, 1000)) AS at,
    status_at_ms AS at_ms, count, version
FROM {{.Database}}.alerts;

CREATE TABLE IF NOT EXISTS {{.Database}}.notifications (
    receiver String,
    group_id String,
    version UInt64,
    ref String,
    pending_ms UInt64,
    sent_ms UInt64,
    shown String,
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (receiver, group_id);

CREATE TABLE IF NOT EXISTS {{.Database}}.silences (
    id String,
    matcher_labels Array(String),
    matcher_patterns Array(String),
    starts_ms UInt64,
    ends_ms UInt64,
    author String,
    comment String,
    created_ms UInt64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Alerting writes an alert or a delivery at a time, as they happen; Buffer
-- tables gather those small inserts into one part a second or two in the
-- tables above (ClickHouse slows inserts that make many small parts). Reads
-- go through the buffers and see both. Buffered rows live in the server's
-- memory until flushed: a ClickHouse shutdown flushes them, a ClickHouse
-- crash loses up to the last 2 s of them (scimwatch's own restarts lose
-- nothing).
CREATE TABLE IF NOT EXISTS {{.Database}}.alerts_buffer AS {{.Database}}.alerts
ENGINE = Buffer({{.Database}}, alerts, 1, 1, 2, 100, 10000, 100000, 10000000);

CREATE TABLE IF NOT EXISTS {{.Database}}.notifications_buffer AS {{.Database}}.notifications
ENGINE = Buffer({{.Database}}, notifications, 1, 1, 2, 100, 10000, 100000, 10000000);
