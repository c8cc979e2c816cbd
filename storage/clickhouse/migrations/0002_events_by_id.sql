-- Events are exactly once by (tenant, id), whatever normalizer version wrote
-- them. 0001 keyed the table by (tenant, action, time, id), so an event whose
-- action or time a newer normalizer changed (re-ingested after an upgrade)
-- was stored twice and never merged. The table is now sorted by (tenant, id)
-- alone, and ReplacingMergeTree keeps the row ingested last. Partitions stay
-- days of the event's time, for retention and for pruning; FINAL (and so
-- events_unique) collapses an event across partitions too, should a newer
-- normalizer move its time to another day.
--
-- The upgrade copies the 0001 table, swaps the names (two renames, below),
-- and copies again what was inserted into the old table meanwhile. Each step runs only while it is
-- still to do ("-- only if:" guards), and copying twice is harmless since
-- rows collapse by id, so several instances may run it at once.

-- only if: SELECT count() FROM system.tables WHERE database = '{{.Database}}' AND name = 'events' AND sorting_key != 'tenant, id'
CREATE TABLE IF NOT EXISTS {{.Database}}.events_by_id (
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
) ENGINE = ReplacingMergeTree(ingested_ms)
PARTITION BY toYYYYMMDD(time)
ORDER BY (tenant, id);

-- only if: SELECT countIf(name = 'events_by_id') * countIf(name = 'events' AND sorting_key != 'tenant, id') FROM system.tables WHERE database = '{{.Database}}'
INSERT INTO {{.Database}}.events_by_id SELECT * FROM {{.Database}}.events;

-- Two renames of one table each, not one of both: on 18.16 a RENAME of both
-- locks events, then events_by_id, while another instance's copy above
-- holds events_by_id and waits for events, and neither ever ends (no KILL
-- reaches a lock wait). Between the two, events is absent for a moment:
-- ingest retries its batch, another instance's step fails and starts over.
-- only if: SELECT countIf(name = 'events_by_id') * countIf(name = 'events' AND sorting_key != 'tenant, id') FROM system.tables WHERE database = '{{.Database}}'
RENAME TABLE {{.Database}}.events TO {{.Database}}.events_v1;

-- only if: SELECT countIf(name = 'events_by_id') * (countIf(name = 'events') = 0) FROM system.tables WHERE database = '{{.Database}}'
RENAME TABLE {{.Database}}.events_by_id TO {{.Database}}.events;

-- only if: SELECT count() FROM system.tables WHERE database = '{{.Database}}' AND name = 'events_v1'
INSERT INTO {{.Database}}.events SELECT * FROM {{.Database}}.events_v1;

DROP TABLE IF EXISTS {{.Database}}.events_v1;
