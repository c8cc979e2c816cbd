-- App users are not people (issue 19). Okta's app assignment and
-- provisioning records name the person's account in the app (AppUser,
-- 0ua…) before the person (User, 00u…); both were typed user, and the
-- access map keyed an app's rows by the first, the app user, while the
-- person's deactivation was keyed by the person: the two never joined.
-- Normalizers now type the app's account app_user. The access map's view is
-- replaced by one keyed by the person (for records stored before, an Okta
-- record's last user target), with the app user's login kept as the
-- account, and the map is rebuilt from the stored events.
--
-- Also: trimmed_unread, the fields of a record the normalizer could not
-- read (event.Trimmed.Unread), 0 for rows stored before.

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'events' AND name = 'trimmed_unread'
ALTER TABLE {{.Database}}.events ADD COLUMN trimmed_unread UInt32 DEFAULT 0;

-- only if: SELECT toUInt64(count() = 0) FROM system.columns WHERE database = '{{.Database}}' AND table = 'app_access' AND name = 'account'
ALTER TABLE {{.Database}}.app_access ADD COLUMN account AggregateFunction(argMax, String, Tuple(UInt64, String));

DROP TABLE IF EXISTS {{.Database}}.app_access_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.app_access_mv TO {{.Database}}.app_access AS
{{template "access" .}}
GROUP BY tenant, user_id, app, day;

-- The rows keyed by app users go; the events stored are read again, a day at
-- a time. An event stored while this runs is read by both the view and the
-- rebuild: the merges (min, max, argMax) make that harmless.
TRUNCATE TABLE {{.Database}}.app_access;

-- for each events partition
INSERT INTO {{.Database}}.app_access {{template "access" .}} AND toYYYYMMDD(time) = $partition
GROUP BY tenant, user_id, app, day;
