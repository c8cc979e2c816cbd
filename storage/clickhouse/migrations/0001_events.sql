-- The canonical events, one row per event. At-least-once delivery can insert
-- an event twice: ReplacingMergeTree collapses rows with the same sorting key
-- (tenant, action, time, id) when parts merge, and queries that must be exact
-- before merges read through events_unique (FINAL) or count uniqExact(id).
-- The millisecond part of the time is in time_ms: no DateTime64 on 18.16.
-- Retention drops whole day partitions (no TTL on 18.16).
CREATE TABLE IF NOT EXISTS {{.Database}}.events (
    tenant String,
    id String,
    time DateTime,
    time_ms UInt16,
    source String,
    raw_type String,
    action String,
    outcome String,
    reason String,
    actor_id String,
    actor_type String,
    actor_name String,
    actor_email String,
    actor_ip String,
    actor_user_agent String,
    target_ids Array(String),
    target_types Array(String),
    target_names Array(String),
    target_emails Array(String),
    change_fields Array(String),
    change_olds Array(String),
    change_news Array(String),
    correlation_id String,
    raw String,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    produced_ms UInt64,
    ingested_ms UInt64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(time)
ORDER BY (tenant, action, time, id);

CREATE VIEW IF NOT EXISTS {{.Database}}.events_unique AS
SELECT * FROM {{.Database}}.events FINAL;
