package rules

import (
	"strings"
	"testing"
)

// TestTenantScopedRefuses: what a rules file slipped into a repository
// could make a scheduled query do, each refused with a reason.
func TestTenantScopedRefuses(t *testing.T) {
	for _, tc := range []struct{ name, query, want string }{
		{"another tenant", "SELECT id AS key FROM events WHERE tenant != @tenant", "tenant != @tenant: a scheduled query reads the tenant it runs for only"},
		{"a tenant by name", "SELECT id AS key FROM events WHERE tenant = 'globex' AND @tenant != ''", "tenant = 'globex'"},
		{"tenants in a list", "SELECT id AS key FROM events WHERE e.tenant IN (@tenant, 'globex')", "tenant IN ("},
		{"another database", "SELECT name FROM system.tables WHERE database != @tenant", "name tables without a database"},
		{"another database, quoted", "SELECT * FROM `default`.\"events\" WHERE tenant = @tenant", "name tables without a database"},
		{"a database of scimwatch's name", "SELECT * FROM scimwatch.events WHERE tenant = @tenant", "name tables without a database"},
		{"a table not scimwatch's", "SELECT * FROM schema_migrations WHERE tenant = @tenant", `table "schema_migrations"`},
		{"url()", "SELECT * FROM url('http://203.0.113.9/x', CSV, 'a String') WHERE @tenant = ''", "url(): table functions are not allowed"},
		{"file()", "SELECT * FROM file('secrets.csv', CSV, 'a String') WHERE @tenant = ''", "file(): table functions are not allowed"},
		{"numbers()", "SELECT number FROM numbers(10) WHERE @tenant = ''", "numbers(): table functions"},
		{"remote() in a join", "SELECT 1 FROM events AS e JOIN remote('10.0.0.1', default.t) AS r USING id WHERE tenant = @tenant", "remote(): table functions"},
		{"file() as a function", "SELECT file('/etc/passwd') AS key FROM events WHERE tenant = @tenant", "file() is not allowed"},
		{"joinGet", "SELECT joinGet('other.t', 'v', 1) AS key FROM events WHERE tenant = @tenant", "joinGet() is not allowed"},
		{"a dictionary", "SELECT dictGetString('d', 'v', toUInt64(1)) AS key FROM events WHERE tenant = @tenant", "dictGetString() is not allowed"},
		{"sleep", "SELECT sleepEachRow(3) AS key FROM events WHERE tenant = @tenant", "sleepEachRow() is not allowed"},
		{"settings", "SELECT id AS key FROM events WHERE tenant = @tenant SETTINGS readonly = 0", "SETTINGS is not allowed"},
		{"format", "SELECT id AS key FROM events WHERE tenant = @tenant FORMAT JSON", "FORMAT is not allowed"},
		{"into outfile", "SELECT id AS key FROM events WHERE tenant = @tenant INTO OUTFILE 'x'", "INTO is not allowed"},
		{"a second statement", "SELECT 1 AS key FROM tenants WHERE tenant = @tenant; DROP TABLE events", "one statement only"},
		{"not a select", "INSERT INTO events SELECT * FROM events WHERE tenant = @tenant", "must be a SELECT"},
		{"a comma join", "SELECT * FROM account_days, tenants WHERE tenant = @tenant", "implicit CROSS JOIN"},
		{"a comma join after a subquery", "SELECT * FROM (SELECT 1 AS x) AS a, tenants WHERE @tenant = ''", "implicit CROSS JOIN"},
		{"a joined subquery without an alias, left", "SELECT * FROM (SELECT user_id FROM accounts) ALL INNER JOIN account_days AS d USING user_id", "needs an alias"},
		{"a joined subquery without an alias, right", "SELECT * FROM accounts AS a ALL INNER JOIN (SELECT user_id FROM account_days) USING user_id", "needs an alias"},
		{"a joined subquery without an alias, last", "SELECT * FROM accounts AS a CROSS JOIN (SELECT user_id FROM account_days)", "needs an alias"},
		{"ANY INNER JOIN", "SELECT * FROM accounts AS a ANY INNER JOIN (SELECT user_id FROM account_days) AS d USING user_id", "ALL INNER JOIN"},
		{"ANY JOIN", "SELECT * FROM accounts AS a GLOBAL ANY JOIN account_days AS d USING user_id", "ALL INNER JOIN"},
		{"IN a table", "SELECT id AS key FROM events WHERE tenant = @tenant AND actor_id IN system.users", "IN system: name a subquery"},
		{"a subquery of another database", "SELECT id AS key FROM events WHERE tenant = @tenant AND actor_id IN (SELECT name FROM system.users)", "name tables without a database"},
		{"a # comment", "SELECT 1 AS key FROM tenants WHERE tenant = @tenant # x", "not allowed"},
		{"a heredoc", "SELECT $$x$$ AS key FROM tenants WHERE tenant = @tenant", "not allowed"},
		{"an open quote", "SELECT 'x AS key FROM tenants WHERE tenant = @tenant", "not closed"},
		{"an open comment", "SELECT 1 /* FROM system.tables", "not closed"},
		{"an unbalanced paren", "SELECT (1 AS key FROM tenants WHERE tenant = @tenant", "not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TenantScoped(tc.query, "scimwatch")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("TenantScoped(%q) = %q, %v; want an error saying %q", tc.query, got, err, tc.want)
			}
		})
	}
}

// TestTenantScopedRewrites: every table read becomes its tenant's rows,
// whatever the query's own WHERE says; what is not a table is left alone.
func TestTenantScopedRewrites(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"SELECT id FROM events WHERE tenant = @tenant OR 1 = 1",
			"SELECT id FROM (SELECT * FROM db.events WHERE tenant = @tenant) AS events WHERE tenant = @tenant OR 1 = 1"},
		{"SELECT a.user_id FROM account_days AS a ANY LEFT JOIN app_access b USING user_id WHERE 1",
			"SELECT a.user_id FROM (SELECT * FROM db.account_days WHERE tenant = @tenant) AS a ANY LEFT JOIN (SELECT * FROM db.app_access WHERE tenant = @tenant) b USING user_id WHERE 1"},
		{"SELECT count() FROM events FINAL WHERE x IN (SELECT user_id FROM credentials)",
			"SELECT count() FROM (SELECT * FROM db.events FINAL WHERE tenant = @tenant) AS events WHERE x IN (SELECT user_id FROM (SELECT * FROM db.credentials WHERE tenant = @tenant) AS credentials)"},
		{"SELECT EXTRACT(DAY FROM time) AS d, trim(BOTH ' ' FROM actor_name) FROM `events` ARRAY JOIN target_ids AS tid WHERE tid IN tuple('a')",
			"SELECT EXTRACT(DAY FROM time) AS d, trim(BOTH ' ' FROM actor_name) FROM (SELECT * FROM db.events WHERE tenant = @tenant) AS events ARRAY JOIN target_ids AS tid WHERE tid IN tuple('a')"},
		{"-- FROM system.tables in a comment\nSELECT 'FROM system.tables' AS s, format('{}', 1) FROM tenants;",
			"-- FROM system.tables in a comment\nSELECT 'FROM system.tables' AS s, format('{}', 1) FROM (SELECT * FROM db.tenants WHERE tenant = @tenant) AS tenants;"},
	} {
		got, err := TenantScoped(tc.query, "db")
		if err != nil || got != tc.want {
			t.Errorf("TenantScoped(%q):\n got %q, %v\nwant %q", tc.query, got, err, tc.want)
		}
	}
}

// FuzzTenantScoped: whatever the query, TenantScoped does not panic; a
// query it accepts is rewritten so that every table it reads is its
// tenant's rows: each "db." it added is a scoped subquery of a table of
// TenantTables, and the rewrite is itself a query the scoping accepts when
// the database is left out (it names no database but db).
func FuzzTenantScoped(f *testing.F) {
	f.Add("SELECT id FROM events WHERE tenant = @tenant")
	f.Add("SELECT * FROM (SELECT 1) AS a JOIN account_days USING x")
	f.Add("SELECT * FROM events FINAL AS e ANY LEFT JOIN tenants USING tenant WHERE x IN (SELECT id FROM credentials)")
	f.Add("SELECT * FROM system.tables")
	f.Add("SELECT * FROM (SELECT user_id FROM accounts) AS a ALL INNER JOIN (SELECT user_id FROM account_days) AS d USING user_id")
	f.Add("SELECT * FROM (SELECT user_id FROM accounts) GLOBAL ANY INNER JOIN (SELECT 1) USING user_id")
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Contains(q, "zzdb") {
			return
		}
		got, err := TenantScoped(q, "zzdb")
		if err != nil {
			return
		}
		scoped := strings.Count(got, "zzdb.")
		for _, table := range TenantTables {
			scoped -= strings.Count(got, "(SELECT * FROM zzdb."+table+" WHERE tenant = @tenant)")
			scoped -= strings.Count(got, "(SELECT * FROM zzdb."+table+" FINAL WHERE tenant = @tenant)")
		}
		if scoped != 0 {
			t.Fatalf("%q: a database named that is not a scoped table: %q", q, got)
		}
		if _, err := tokenize(got); err != nil {
			t.Fatalf("%q: the rewrite does not read as a query: %q: %v", q, got, err)
		}
		if n, m := strings.Count(q, "("), strings.Count(got, "("); m < n {
			t.Fatalf("%q: the rewrite lost parentheses: %q", q, got)
		}
	})
}
