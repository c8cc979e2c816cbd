// Package dashboards defines scimwatch's Grafana dashboards as code and
// writes them as the JSON files Grafana provisions (grafana/*.json, with
// provisioning/ for the datasources and the dashboards). The ClickHouse
// panels are for the Grafana ClickHouse datasource plugin
// (grafana-clickhouse-datasource), the pipeline's for Prometheus.
//
// The queries work on ClickHouse 18.16 and current releases: time buckets
// are intDiv of the time by $__interval_s ($__timeInterval needs
// toStartOfInterval, which 18.16 lacks), and counts are exact before
// ClickHouse merges duplicates: events and alerts are read FINAL (memory
// stays bounded however many events a range holds, where uniqExact(id)
// would hold every id of the range).
package dashboards

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Datasources, by the uid the provisioning file gives them.
const (
	ClickHouse = "scimwatch-clickhouse"
	Prometheus = "scimwatch-prometheus"
)

// Panel is one panel: a ClickHouse SQL query or a PromQL expression.
type Panel struct {
	Title       string
	Description string
	// Type is Grafana's panel type: timeseries, table, barchart, stat,
	// heatmap, piechart.
	Type string
	// Datasource is ClickHouse or Prometheus.
	Datasource string
	// Query is SQL with the plugin's macros ($__timeFilter(col),
	// $__fromTime, $__toTime, $__interval_s) and ${tenant:singlequote}, or
	// PromQL.
	Query string
	// TimeSeries: the result is a time series (a time column first).
	TimeSeries bool
	// Rows says the simulator's data always gives this panel rows (the
	// test fails on an empty result).
	Rows bool
	W, H int

	// reference: for a panel reading roll-ups, the same query reading
	// only events (the tests compare the two).
	reference string
}

// Dashboard is one dashboard.
type Dashboard struct {
	UID, Title, Description string
	// Tenant: the dashboard has the tenant variable.
	Tenant bool
	Panels []Panel
}

// tenantsQuery lists the tenant variable's choices.
const tenantsQuery = "SELECT DISTINCT tenant FROM tenants ORDER BY tenant"

// tenantFilter restricts a query to the chosen tenants (all by default).
const tenantFilter = `tenant IN (${tenant:singlequote})`

// All returns the dashboards.
func All() []Dashboard {
	return []Dashboard{activity(), alerts(), hygiene(), deprovisioning(), pipeline()}
}

// The activity panels read the whole days of their range that ClickHouse
// has rolled up (clickhouse.Store.Rollup) from the roll-up tables, and the
// rest of the range from events FINAL. A day is read from a roll-up only
// while its events partition's parts are those it was rolled up from (the
// fingerprint in rollup_days matches system.parts), so the roll-ups can lag
// and a count is still exact. Days are the server's, as the partitions are:
// rolled are the days from rollLo (the first whole day of the range) to
// rollHi (the day after its last whole day, or the first day not rolled up).
const (
	rollLo = `(toDate($__fromTime - 1) + 1)`
	// unrolled is the first day from rollLo whose events partition is not
	// rolled up as it is now (a far day when there is none).
	unrolled = `(SELECT min(d) FROM (SELECT toDate('2105-12-31') AS d UNION ALL
    SELECT toDate(concat(substring(partition, 1, 4), '-', substring(partition, 5, 2), '-', substring(partition, 7, 2))) AS d
    FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active GROUP BY partition
    HAVING (partition, sum(cityHash64(name))) NOT IN (SELECT partition, fingerprint FROM rollup_days FINAL)) WHERE d >= ` + rollLo + `)`
	rollHi = `least(toDate($__toTime + 1), ` + unrolled + `)`
	// rollHiHourly: hourly roll-ups only serve buckets of whole hours.
	rollHiHourly = `if($__interval_s % 3600 != 0, ` + rollLo + `, ` + rollHi + `)`
)

// rolledUp is a panel query summing a roll-up's rows over the rolled days
// and the events of the rest of the range: outer has %s for the two
// queries' UNION ALL, rollup has {days} for the rolled days' condition and
// events {rest} for the rest's. hourly says the roll-up is hourly. It
// returns the query and the reference query reading only events.
func rolledUp(outer, rollup, events string, hourly bool) (query, reference string) {
	hi := rollHi
	if hourly {
		hi = rollHiHourly
	}
	days := `day >= ` + rollLo + ` AND day < ` + hi
	rest := `NOT (time >= toDateTime(` + rollLo + `) AND time < toDateTime(` + hi + `))`
	query = fmt.Sprintf(outer, strings.ReplaceAll(rollup, "{days}", days)+"\nUNION ALL\n"+strings.ReplaceAll(events, "{rest}", rest))
	reference = fmt.Sprintf(outer, strings.ReplaceAll(events, "{rest}", "1"))
	return query, reference
}

func activity() Dashboard {
	bucket := func(col string) string {
		return "toDateTime(intDiv(toUInt32(" + col + "), $__interval_s) * $__interval_s)"
	}
	changes := clickhouse.PrivilegeChange
	lifecycle := `outcome = 'success' AND action IN ('user.create', 'user.deactivate', 'user.suspend', 'user.delete')`
	panel := func(p Panel, outer, rollup, events string, hourly bool) Panel {
		p.Query, p.reference = rolledUp(outer, rollup, events, hourly)
		return p
	}
	return Dashboard{UID: "scimwatch-activity", Title: "scimwatch · Provisioning activity", Tenant: true,
		Description: "What the identity providers and SCIM clients did: events by action and tenant, creates and deprovisions, privilege changes by hour of the week, who acts most and on whom, and what fails.",
		Panels: []Panel{
			panel(Panel{Title: "Events by action", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, Rows: true, W: 12, H: 8},
				`SELECT t, action, sum(n) AS events FROM (
%s
) GROUP BY t, action ORDER BY t`,
				`SELECT `+bucket("hour")+` AS t, action, sum(events) AS n
FROM events_hourly FINAL WHERE {days} AND `+tenantFilter+` GROUP BY t, action`,
				`SELECT `+bucket("time")+` AS t, action, count() AS n
FROM events FINAL WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` GROUP BY t, action`, true),
			panel(Panel{Title: "Events by tenant", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, Rows: true, W: 12, H: 8},
				`SELECT t, tenant, sum(n) AS events FROM (
%s
) GROUP BY t, tenant ORDER BY t`,
				`SELECT `+bucket("hour")+` AS t, tenant, sum(events) AS n
FROM events_hourly FINAL WHERE {days} AND `+tenantFilter+` GROUP BY t, tenant`,
				`SELECT `+bucket("time")+` AS t, tenant, count() AS n
FROM events FINAL WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` GROUP BY t, tenant`, true),
			panel(Panel{Title: "Creates and deprovisions", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, Rows: true, W: 12, H: 8,
				Description: "Accounts created, and accounts deactivated, suspended or deleted."},
				`SELECT t, sum(c) AS created, sum(d) AS deprovisioned FROM (
%s
) GROUP BY t ORDER BY t`,
				`SELECT `+bucket("hour")+` AS t, sumIf(events, action = 'user.create') AS c, sumIf(events, action != 'user.create') AS d
FROM events_hourly FINAL WHERE {days} AND `+tenantFilter+` AND `+lifecycle+` GROUP BY t`,
				`SELECT `+bucket("time")+` AS t, countIf(action = 'user.create') AS c, countIf(action != 'user.create') AS d
FROM events FINAL WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` AND `+lifecycle+` GROUP BY t`, true),
			panel(Panel{Title: "Role and group changes by hour of the week (UTC)", Type: "heatmap", Datasource: ClickHouse, Rows: true, W: 12, H: 8,
				Description: "Privilege changes by weekday (1 = Monday) and hour: work outside the usual cells stands out."},
				`SELECT weekday, h AS hour, sum(n) AS changes FROM (
%s
) GROUP BY weekday, hour ORDER BY weekday, hour`,
				`SELECT toDayOfWeek(hour) AS weekday, toHour(hour) AS h, sum(events) AS n
FROM events_hourly FINAL WHERE {days} AND `+tenantFilter+` AND `+changes+` GROUP BY weekday, h`,
				`SELECT toDayOfWeek(time) AS weekday, toHour(time) AS h, count() AS n
FROM events FINAL WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` AND `+changes+` GROUP BY weekday, h`, false),
			panel(Panel{Title: "Top actors (sign-ins aside)", Type: "table", Datasource: ClickHouse, Rows: true, W: 8, H: 9,
				Description: "Who made the most changes: admins, SCIM clients, users changing their own accounts. Sign-ins are left out: every user signs in."},
				`SELECT tenant, actor, actor_type, sum(e) AS events, sum(p) AS privilege_changes FROM (
%s
) GROUP BY tenant, actor, actor_type ORDER BY events DESC, tenant, actor LIMIT 20`,
				`SELECT tenant, actor, actor_type, sum(events) AS e, sum(privilege_changes) AS p
FROM actors_daily FINAL WHERE {days} AND `+tenantFilter+` GROUP BY tenant, actor, actor_type`,
				`SELECT tenant, `+clickhouse.ActorExpr+` AS actor, actor_type, count() AS e, countIf(`+changes+`) AS p
FROM events FINAL WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` AND actor_id != '' AND action != 'user.login'
GROUP BY tenant, actor, actor_type`, false),
			panel(Panel{Title: "Top targets", Type: "table", Datasource: ClickHouse, Rows: true, W: 8, H: 9},
				`SELECT tenant, target, sum(n) AS events FROM (
%s
) GROUP BY tenant, target ORDER BY events DESC, tenant, target LIMIT 20`,
				`SELECT tenant, target, sum(events) AS n
FROM targets_daily FINAL WHERE {days} AND `+tenantFilter+` GROUP BY tenant, target`,
				`SELECT tenant, target, count() AS n
FROM events FINAL `+clickhouse.TargetsJoin+`
WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` AND target_type = 'user' AND target != '' GROUP BY tenant, target`, false),
			panel(Panel{Title: "Failures by app", Type: "barchart", Datasource: ClickHouse, Rows: true, W: 8, H: 9,
				Description: "Failed provisioning by app, or by SCIM client when the record names no app."},
				`SELECT app, sum(n) AS failures FROM (
%s
) GROUP BY app ORDER BY failures DESC, app LIMIT 20`,
				`SELECT app, sum(failures) AS n
FROM failures_daily FINAL WHERE {days} AND `+tenantFilter+` GROUP BY app`,
				`SELECT `+clickhouse.AppExpr+` AS app, count() AS n
FROM events FINAL WHERE $__timeFilter(time) AND {rest} AND `+tenantFilter+` AND outcome = 'failure' GROUP BY app`, false),
		}}
}

func alerts() Dashboard {
	bucket := "toDateTime(intDiv(toUInt32(first), $__interval_s) * $__interval_s)"
	return Dashboard{UID: "scimwatch-alerts", Title: "scimwatch · Alerts and triage", Tenant: true,
		Description: "The alerts scimwatch raised and what people did with them: by rule and severity, open, acknowledged and false positives, and how long acknowledging takes.",
		Panels: []Panel{
			{Title: "Alerts by rule", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, Rows: true, W: 12, H: 8,
				Query: `SELECT ` + bucket + ` AS t, rule, count() AS alerts
FROM alerts FINAL WHERE $__timeFilter(first) AND ` + tenantFilter + `
GROUP BY t, rule ORDER BY t`},
			{Title: "Alerts by severity", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, Rows: true, W: 12, H: 8,
				Query: `SELECT ` + bucket + ` AS t, severity, count() AS alerts
FROM alerts FINAL WHERE $__timeFilter(first) AND ` + tenantFilter + `
GROUP BY t, severity ORDER BY t`},
			{Title: "Open, acknowledged, false positive", Type: "stat", Datasource: ClickHouse, Rows: true, W: 8, H: 6,
				Query: `SELECT
    countIf(status = 'firing' AND resolved = 0 AND false_positive = 0) AS open,
    countIf(status = 'acknowledged') AS acknowledged,
    countIf(false_positive = 1) AS false_positives,
    countIf(status = 'silenced') AS silenced
FROM alerts FINAL WHERE $__timeFilter(first) AND ` + tenantFilter},
			{Title: "False-positive ratio by rule", Type: "barchart", Datasource: ClickHouse, Rows: true, W: 8, H: 6,
				Description: "The share of a rule's alerts marked false positive: the rules to tune first.",
				Query: `SELECT rule, round(sum(false_positive) / count(), 3) AS false_positive_ratio, count() AS alerts
FROM alerts FINAL WHERE $__timeFilter(first) AND ` + tenantFilter + `
GROUP BY rule ORDER BY false_positive_ratio DESC, alerts DESC`},
			{Title: "Time to acknowledge (minutes)", Type: "table", Datasource: ClickHouse, Rows: true, W: 8, H: 6,
				Query: `SELECT rule, count() AS acknowledged, round(quantile(0.5)(wait_ms) / 60000, 1) AS p50, round(quantile(0.9)(wait_ms) / 60000, 1) AS p90
FROM (
    SELECT id, rule, minIf(at_ms, status = 'acknowledged') - minIf(at_ms, status IN ('firing', 'silenced')) AS wait_ms
    FROM alert_changes WHERE $__timeFilter(at) AND ` + tenantFilter + `
    GROUP BY id, rule
    HAVING countIf(status = 'acknowledged') > 0 AND countIf(status IN ('firing', 'silenced')) > 0
)
GROUP BY rule ORDER BY acknowledged DESC`},
		}}
}

func hygiene() Dashboard {
	accounts := `SELECT user_id, argMaxMerge(email) AS email, argMaxMerge(status) AS status, minMerge(created) AS created,
        minMerge(activated) AS activated, maxMerge(last_used) AS last_used
    FROM accounts WHERE ` + tenantFilter + `
    GROUP BY user_id`
	now := "(toUInt64(toUInt32($__toTime)) * 1000)"
	return Dashboard{UID: "scimwatch-hygiene", Title: "scimwatch · Account hygiene", Tenant: true,
		Description: "Accounts nobody uses that are still open, admins who stopped working, accounts never activated, credentials in use by age, as they are now (idle times counted to the end of the time range); and the findings of the scheduled rules over time.",
		Panels: []Panel{
			{Title: "Accounts", Type: "stat", Datasource: ClickHouse, Rows: true, W: 24, H: 5,
				Query: `SELECT
    countIf(status NOT IN ('deactivated', 'suspended', 'deleted')) AS open_accounts,
    countIf(status NOT IN ('deactivated', 'suspended', 'deleted') AND last_used > 0 AND last_used < ` + now + ` - 90 * 86400000) AS stale_90_days,
    countIf(created != 18446744073709551615 AND created < ` + now + ` - 14 * 86400000
        AND (activated = 18446744073709551615 OR activated > ` + now + `) AND last_used = 0
        AND status NOT IN ('deactivated', 'suspended', 'deleted')) AS never_activated
FROM (` + accounts + `)`},
			{Title: "Stale accounts (open, unused for 90 days)", Type: "table", Datasource: ClickHouse, Rows: true, W: 12, H: 9,
				Query: `SELECT user_id, email, status, toDate(intDiv(last_used, 1000)) AS last_used_on,
    intDiv(` + now + ` - last_used, 86400000) AS idle_days
FROM (` + accounts + `)
WHERE status NOT IN ('deactivated', 'suspended', 'deleted') AND last_used > 0 AND last_used < ` + now + ` - 90 * 86400000
ORDER BY idle_days DESC LIMIT 100`},
			{Title: "Dormant admins (a privileged role or group, unused for 30 days)", Type: "table", Datasource: ClickHouse, Rows: true, W: 12, H: 9,
				Query: `SELECT user_id, email, roles, toDate(intDiv(last_used, 1000)) AS last_used_on, intDiv(` + now + ` - greatest(last_used, granted), 86400000) AS idle_days
FROM (
    SELECT user_id, groupArray(role) AS roles, max(changed) AS granted
    FROM (
        SELECT user_id, role, kind, argMaxMerge(held) AS held, maxMerge(changed) AS changed
        FROM accounts_roles WHERE ` + tenantFilter + `
        GROUP BY user_id, role, kind
    )
    WHERE held = 1 AND (kind = 'role' AND lower(role) LIKE '%admin%' OR kind = 'group' AND lower(role) LIKE '%admin%')
    GROUP BY user_id
) AS admins ALL INNER JOIN (` + accounts + `) AS accounts USING user_id
WHERE status NOT IN ('deactivated', 'suspended', 'deleted') AND greatest(last_used, granted) < ` + now + ` - 30 * 86400000
ORDER BY idle_days DESC LIMIT 100`},
			{Title: "Never activated (created over 14 days ago)", Type: "table", Datasource: ClickHouse, Rows: true, W: 12, H: 8,
				Query: `SELECT user_id, email, status, toDate(intDiv(created, 1000)) AS created_on, intDiv(` + now + ` - created, 86400000) AS age_days
FROM (` + accounts + `)
WHERE created != 18446744073709551615 AND created < ` + now + ` - 14 * 86400000
    AND (activated = 18446744073709551615 OR activated > ` + now + `) AND last_used = 0
    AND status NOT IN ('deactivated', 'suspended', 'deleted')
ORDER BY age_days DESC LIMIT 100`},
			{Title: "Hygiene findings over time", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, W: 12, H: 8,
				Description: "Alerts of the scheduled rules stale-account, dormant-admin, never-activated, credential-not-rotated and credential-used-after-revoke, by day.",
				Query: `SELECT toDateTime(toDate(first)) AS t, rule, count() AS findings
FROM alerts FINAL WHERE $__timeFilter(first) AND ` + tenantFilter + ` AND rule IN ('stale-account', 'dormant-admin', 'never-activated', 'credential-not-rotated', 'credential-used-after-revoke')
GROUP BY t, rule ORDER BY t`},
			{Title: "Credentials in use, by age", Type: "table", Datasource: ClickHouse, Rows: true, W: 24, H: 9,
				Description: "API tokens, app secrets and certificates used in the 7 days before the end of the range, oldest first: age from creation, or (marked) from the first event that names them when their creation predates the logs; revoked ones used after revocation stand out.",
				Query: `SELECT tenant, credential_id, name, owner,
    intDiv(` + now + ` - if(created = 18446744073709551615, first_seen, created), 86400000) AS age_days,
    created = 18446744073709551615 AS created_before_logs,
    toDateTime(intDiv(last_used, 1000)) AS last_used_at, revoked > 0 AS revoked
FROM (
    SELECT tenant, credential_id, argMaxMerge(name) AS name, argMaxMerge(owner) AS owner, minMerge(first_seen) AS first_seen,
        minMerge(created) AS created, maxMerge(revoked) AS revoked, maxMerge(last_used) AS last_used
    FROM credentials WHERE ` + tenantFilter + ` AND day <= toDate($__toTime)
    GROUP BY tenant, credential_id
)
WHERE last_used >= ` + now + ` - 7 * 86400000 AND last_used <= ` + now + `
ORDER BY age_days DESC LIMIT 100`},
		}}
}

// deprovisions is, from the access map, every app a user had been
// provisioned to when the identity provider deactivated, suspended or
// deleted them (and has not reactivated them), as of the end of the range:
// tenant, user_id, email, app, account (the user's login in the app, when
// the identity provider names it), deactivated, removed (the app's last
// removal), failed and failure (its last failed one), in milliseconds.
const deprovisions = `SELECT tenant, user_id, email, app, account, deactivated, removed, failed, failure
FROM (
    SELECT tenant, user_id, app, minMerge(provisioned) AS provisioned, maxMerge(deprovisioned) AS removed,
        maxMerge(failed) AS failed, argMaxMerge(failure) AS failure, argMaxMerge(account) AS account
    FROM app_access WHERE app != '' AND ` + tenantFilter + ` AND day <= toDate($__toTime)
    GROUP BY tenant, user_id, app
) AS apps ALL INNER JOIN (
    SELECT tenant, user_id, argMaxMerge(email) AS email, maxMerge(deprovisioned) AS deactivated, maxMerge(provisioned_last) AS activated
    FROM app_access WHERE app = '' AND ` + tenantFilter + ` AND day <= toDate($__toTime)
    GROUP BY tenant, user_id
) AS people USING tenant, user_id
WHERE deactivated > activated AND provisioned < deactivated AND deactivated <= toUInt64(toUInt32($__toTime)) * 1000`

func deprovisioning() Dashboard {
	now := "(toUInt64(toUInt32($__toTime)) * 1000)"
	from := "(toUInt64(toUInt32($__fromTime)) * 1000)"
	return Dashboard{UID: "scimwatch-deprovisioning", Title: "scimwatch · Deprovisioning assurance", Tenant: true,
		Description: "When the identity provider deactivates someone, does every app they were provisioned to remove them, and how fast? Per app latency and failures for the deactivations of the time range, the open gaps (access that should be gone) as of its end, and the findings of the deprovisioning rules.",
		Panels: []Panel{
			{Title: "Deprovisioning latency per app", Type: "table", Datasource: ClickHouse, Rows: true, W: 24, H: 8,
				Description: "For the users deactivated in the time range: how many each app had, how many it removed, how long removal took (p50, p95 minutes), failed attempts, and those still open.",
				Query: `SELECT tenant, app, count() AS deactivated_users, countIf(removed >= deactivated) AS removed_users,
    round(quantileExactIf(0.5)(removed - deactivated, removed >= deactivated) / 60000, 1) AS p50_minutes,
    round(quantileExactIf(0.95)(removed - deactivated, removed >= deactivated) / 60000, 1) AS p95_minutes,
    countIf(failed >= deactivated) AS failures, countIf(removed < deactivated) AS open_gaps
FROM (` + deprovisions + `)
WHERE deactivated >= ` + from + `
GROUP BY tenant, app ORDER BY open_gaps DESC, p95_minutes DESC, tenant, app`},
			{Title: "Open deprovisioning gaps", Type: "table", Datasource: ClickHouse, Rows: true, W: 24, H: 9,
				Description: "Users the identity provider deactivated whom an app has not removed since, as of the end of the time range, oldest first: who still has access that should be gone, and their account in the app (the login the app's own logs use) when the identity provider names it.",
				Query: `SELECT tenant, app, if(email != '', email, user_id) AS user, account AS account_in_app, toDateTime(intDiv(deactivated, 1000)) AS deactivated_at,
    round((` + now + ` - deactivated) / 3600000, 1) AS open_hours,
    if(failed >= deactivated, failure, '') AS last_error
FROM (` + deprovisions + `)
WHERE removed < deactivated
ORDER BY deactivated, tenant, app LIMIT 200`},
			{Title: "Deprovisioning findings over time", Type: "timeseries", Datasource: ClickHouse, TimeSeries: true, W: 24, H: 8,
				Description: "Alerts of deprovision-overdue, deprovision-failed, access-after-deprovision and app-write-after-deprovision, by day.",
				Query: `SELECT toDateTime(toDate(first)) AS t, rule, count() AS findings
FROM alerts FINAL WHERE $__timeFilter(first) AND ` + tenantFilter + ` AND rule IN ('deprovision-overdue', 'deprovision-failed', 'access-after-deprovision', 'app-write-after-deprovision')
GROUP BY t, rule ORDER BY t`},
		}}
}

func pipeline() Dashboard {
	return Dashboard{UID: "scimwatch-pipeline", Title: "scimwatch · Pipeline health",
		Description: "Is scimwatch keeping up: ingest rate, consumer lag of ingest and the detector, dead letters, insert latency, notification failures.",
		Panels: []Panel{
			{Title: "Ingest rate (events/s)", Type: "timeseries", Datasource: Prometheus, W: 12, H: 8,
				Query: `sum by (instance) (rate(scimwatch_ingest_events_inserted_total[1m]))`},
			{Title: "Consumer lag (records)", Type: "timeseries", Datasource: Prometheus, W: 12, H: 8,
				Query: `sum by (topic) (scimwatch_ingest_consumer_lag) or label_replace(sum by (topic) (scimwatch_detector_consumer_lag), "topic", "$1 (detector)", "topic", "(.*)")`},
			{Title: "Dead letters (records/s)", Type: "timeseries", Datasource: Prometheus, W: 8, H: 8,
				Query: `sum by (topic, reason) (rate(scimwatch_ingest_records_dead_lettered_total[5m]))`},
			{Title: "Insert latency p99 (s)", Type: "timeseries", Datasource: Prometheus, W: 8, H: 8,
				Query: `histogram_quantile(0.99, sum by (le) (rate(scimwatch_ingest_insert_duration_seconds_bucket[5m])))`},
			{Title: "Notification failures (per s)", Type: "timeseries", Datasource: Prometheus, W: 8, H: 8,
				Query: `sum by (integration) (rate(scimwatch_alerting_notifications_total{result!="sent"}[5m]))`},
		}}
}

// JSON renders d as a Grafana dashboard (schema version 39).
func (d Dashboard) JSON() ([]byte, error) {
	var panels []map[string]any
	x, y, rowH := 0, 0, 0
	for i, p := range d.Panels {
		if x+p.W > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		ds := map[string]any{"type": "grafana-clickhouse-datasource", "uid": ClickHouse}
		target := map[string]any{"refId": "A", "datasource": ds, "editorType": "sql", "rawSql": p.Query, "queryType": "table", "format": 1}
		if p.TimeSeries {
			target["queryType"], target["format"] = "timeseries", 0
		}
		if p.Datasource == Prometheus {
			ds = map[string]any{"type": "prometheus", "uid": Prometheus}
			target = map[string]any{"refId": "A", "datasource": ds, "expr": p.Query, "range": true}
		}
		panels = append(panels, map[string]any{
			"id": i + 1, "type": p.Type, "title": p.Title, "description": p.Description, "datasource": ds,
			"gridPos": map[string]int{"x": x, "y": y, "w": p.W, "h": p.H}, "targets": []any{target},
		})
		x += p.W
		rowH = max(rowH, p.H)
	}
	var vars []any
	if d.Tenant {
		vars = append(vars, map[string]any{
			"name": "tenant", "label": "Tenant", "type": "query", "multi": true, "includeAll": true, "current": map[string]any{"text": "All", "value": "$__all"},
			"datasource": map[string]any{"type": "grafana-clickhouse-datasource", "uid": ClickHouse},
			"query":      tenantsQuery, "refresh": 1,
		})
	}
	out := map[string]any{
		"uid": d.UID, "title": d.Title, "description": d.Description, "tags": []string{"scimwatch"}, "schemaVersion": 39,
		"time": map[string]string{"from": "now-7d", "to": "now"}, "refresh": "1m", "timezone": "browser",
		"templating": map[string]any{"list": vars}, "panels": panels, "editable": true,
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}
