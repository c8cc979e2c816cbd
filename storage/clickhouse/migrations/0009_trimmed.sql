-- What normalization cut from an event past scimwatch's bounds, or replaced
-- (source.Limits, event.Trimmed): the counts of targets and changes left
-- out and of strings shortened, and the record's own time when it was
-- outside the sane range (the event's time is then when it was received).
-- Zero and '' for almost every event. Added at the end, with defaults:
-- rows stored before read as not trimmed.

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'events' AND name = 'trimmed_targets'
ALTER TABLE {{.Database}}.events ADD COLUMN trimmed_targets UInt32 DEFAULT 0;

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'events' AND name = 'trimmed_changes'
ALTER TABLE {{.Database}}.events ADD COLUMN trimmed_changes UInt32 DEFAULT 0;

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'events' AND name = 'trimmed_strings'
ALTER TABLE {{.Database}}.events ADD COLUMN trimmed_strings UInt32 DEFAULT 0;

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'events' AND name = 'trimmed_time'
ALTER TABLE {{.Database}}.events ADD COLUMN trimmed_time String DEFAULT '';
