package eventstore

import (
	"context"
	"fmt"
	"time"
)

// Deprovision is one user's removal from one app after the identity
// provider deactivated, suspended or deleted the user: done (Removed after
// Deactivated) or open.
type Deprovision struct {
	Tenant, UserID, Email, App string
	// Account is the user's account in the app, by the login the app
	// knows (an Okta app user's), when the identity provider names it:
	// what to look for in the app and its own logs.
	Account string
	// Deactivated is when the identity provider deactivated the user;
	// Removed when the app last removed them (zero: not since); Failed and
	// Failure the last failed removal and the app's error.
	Deactivated, Removed, Failed time.Time
	Failure                      string
}

// Open says the app has not removed the user since the deactivation.
func (d Deprovision) Open() bool { return d.Removed.Before(d.Deactivated) }

// Latency is how long the app took to remove the user (0 while open).
func (d Deprovision) Latency() time.Duration {
	if d.Open() {
		return 0
	}
	return d.Removed.Sub(d.Deactivated)
}

// Deprovisions returns, from the access map, for every user the identity
// provider has deactivated (and not reactivated) since since, each app the
// user had been provisioned to, with its removal; tenant "" is every tenant.
// Ordered by tenant, app and deactivation.
func (s *Store) Deprovisions(ctx context.Context, tenant string, since, now time.Time) ([]Deprovision, error) {
	q := `SELECT tenant, user_id, email, app, account, deactivated, removed, failed, failure
FROM (
    SELECT tenant, user_id, app, minMerge(provisioned) AS provisioned, maxMerge(deprovisioned) AS removed,
        maxMerge(failed) AS failed, argMaxMerge(failure) AS failure, argMaxMerge(account) AS account
    FROM ` + s.db + `.app_access
    WHERE app != '' AND (? = '' OR tenant = ?) AND day <= toDate(toDateTime(?))
    GROUP BY tenant, user_id, app
) AS apps ALL INNER JOIN (
    SELECT tenant, user_id, argMaxMerge(email) AS email, maxMerge(deprovisioned) AS deactivated, maxMerge(provisioned_last) AS activated
    FROM ` + s.db + `.app_access
    WHERE app = '' AND (? = '' OR tenant = ?) AND day <= toDate(toDateTime(?))
    GROUP BY tenant, user_id
) AS people USING tenant, user_id
WHERE deactivated > activated AND deactivated >= ? AND deactivated <= ? AND provisioned < deactivated
ORDER BY tenant, app, deactivated, user_id`
	rows, err := s.ch.Conn().Query(ctx, q, tenant, tenant, now.Unix(), tenant, tenant, now.Unix(), uint64(since.UnixMilli()), uint64(now.UnixMilli()))
	if err != nil {
		return nil, fmt.Errorf("reading the access map: %w", err)
	}
	defer rows.Close()
	var out []Deprovision
	ms := func(v uint64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(int64(v)).UTC()
	}
	for rows.Next() {
		var d Deprovision
		var deact, removed, failed uint64
		if err := rows.Scan(&d.Tenant, &d.UserID, &d.Email, &d.App, &d.Account, &deact, &removed, &failed, &d.Failure); err != nil {
			return nil, fmt.Errorf("reading the access map: %w", err)
		}
		d.Deactivated, d.Removed, d.Failed = ms(deact), ms(removed), ms(failed)
		out = append(out, d)
	}
	return out, rows.Err()
}
