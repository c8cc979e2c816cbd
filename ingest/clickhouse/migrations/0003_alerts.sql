-- Alerting's history, in the same database as the events (dashboards join
-- them): every alert's latest state, every status change, what each
-- integration delivered (so a restart edits the Slack message it posted),
-- and silences. Times are kept as milliseconds since the epoch (no
-- DateTime64 on 18.16) beside a DateTime for partitions.

CREATE TABLE IF NOT EXISTS {{.Database}}.alerts (
    tenant String,
    id String,
    rule String,
    severity String,
    key String,
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

CREATE TABLE IF NOT EXISTS {{.Database}}.alert_changes (
    tenant String,
    id String,
    rule String,
    status String,
    by String,
    comment String,
    at DateTime,
    at_ms UInt64,
    count UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, at, id);

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
