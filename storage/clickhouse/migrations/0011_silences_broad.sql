-- A silence that matches every alert of a tenant is applied only when a
-- person asked for it as such (silence add --broad): 1 here. Silences
-- stored before read 0, so that a broad one made from an alert by an older
-- version (an actor named "*") is not applied.

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'silences' AND name = 'broad'
ALTER TABLE {{.Database}}.silences ADD COLUMN broad UInt8 DEFAULT 0;
