package rules

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

func TestLoadGood(t *testing.T) {
	s, err := Load(Options{}, "testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) != 2 || s.Rules[0].ID != "admin-grant" || s.Rules[0].Severity != "high" || s.Rules[0].Tags[0] != "T1098.003" {
		t.Fatalf("rules %+v", s.Rules)
	}
	if !s.lists["admin_roles"]["Global Administrator"] || s.lists["admin_roles"]["# one role a line"] {
		t.Errorf("list file not read right: %v", s.lists["admin_roles"])
	}
}

// TestLoadBad checks that every mistake of every file is reported at once,
// each at its place.
func TestLoadBad(t *testing.T) {
	_, err := Load(Options{}, "testdata/bad")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"testdata/bad/errors.yaml:5:17: type event.Actor has no field emial",
		"testdata/bad/errors.yaml:10:31: invalid operation: && (mismatched types bool and int)",
		// Each mistake at its own line, not the rule's when.
		`testdata/bad/errors.yaml:12: rule "Bad_ID": id must be lower-case letters, digits and dashes`,
		`testdata/bad/errors.yaml:13: rule "Bad_ID": title is required`,
		`testdata/bad/errors.yaml:14: rule "Bad_ID": severity "urgent" is not one of info, low, medium, high, critical`,
		`testdata/bad/errors.yaml:35: rule "title-typo": title: template: :1:19: executing "" at <.Event.Actor.Emial>: can't evaluate field Emial`,
		`testdata/bad/errors.yaml:19:33: unknown list "nope"`,
		"testdata/bad/errors.yaml:23:30: bad regex: error parsing regexp",
		"testdata/bad/errors.yaml:25:9: unknown name no_such_macro",
		"testdata/bad/unknown-key.yaml:5: field wen not found\n",
		// Once a nil-pointer panic in the guard compiler: a list named by
		// an expression, not a literal.
		`testdata/bad/errors.yaml:29:29: in_list: the list name must be a quoted string, such as "admins"`,
		"testdata/bad/errors.yaml:33:36: regex: the pattern must be a quoted string: patterns are compiled once, at load",
		"testdata/bad/errors.yaml:33:60: glob: the pattern must be a quoted string",
		// History kinds: values that would overflow, NaN, a query that
		// would run across tenants, a rule of two kinds.
		`testdata/bad/history.yaml:3: rule "a": history: "9999999999d" is not a duration`,
		`testdata/bad/history.yaml:3: rule "a": new_term.fields: 1 to 8 fields`,
		`testdata/bad/history.yaml:8: rule "b": min_history (1512h0m0s) is longer than history (1344h0m0s)`,
		`testdata/bad/history.yaml:8: rule "b": baseline.rate.deviations must be from 0 to 100`,
		`testdata/bad/history.yaml:13: rule "c": baseline.hours.max_share must be between 0 and 1`,
		`testdata/bad/history.yaml:18: rule "d": scheduled.params.x: want {list: NAME}`,
		`testdata/bad/history.yaml:23: rule "e": scheduled.query must filter by tenant = @tenant`,
		`testdata/bad/history.yaml:28: rule "f": has baseline and new_term: a rule is of one kind at most`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q", want)
		}
	}
	// A rule without a summary shows its title: a mistake in the title is
	// one error, not a second one about a summary the file does not have.
	if strings.Contains(msg, `"title-typo": summary`) {
		t.Error("a title mistake is also reported as a summary mistake")
	}
	if t.Failed() {
		t.Logf("errors:\n%s", msg)
	}
}

func TestBusinessHours(t *testing.T) {
	cal := Calendar{
		Default: DefaultCalendar().Default,
		Tenants: map[string]Hours{
			"paris": {Timezone: "Europe/Paris", Start: "09:00", End: "18:00", Weekend: []string{"Saturday", "Sunday"}, Holidays: []string{"2026-12-25"}},
			"nyc":   {Timezone: "America/New_York", Start: "09:00", End: "17:00", Weekend: []string{"Saturday", "Sunday"}},
			"pune":  {Timezone: "Asia/Kolkata", Start: "09:30", End: "18:30", Weekend: []string{"Sunday"}},
			// A night shift, 22:00 to 06:00, Sunday night to Friday night.
			"night": {Timezone: "Europe/Paris", Start: "22:00", End: "06:00", Weekend: []string{"Saturday", "Sunday"}, Holidays: []string{"2026-12-24"}},
			"24x7":  {Start: "00:00", End: "24:00", Weekend: []string{}},
			// What a tenant does not say is the default's: 08:00 to 19:00,
			// weekends off.
			"tokyo": {Timezone: "Asia/Tokyo"},
		},
	}
	if err := cal.compile(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant string
		at     string
		want   bool
	}{
		{"acme", "2026-11-23T08:00:00Z", true},   // Monday 08:00 UTC
		{"tokyo", "2026-11-23T00:30:00Z", true},  // Monday 09:30 in Tokyo
		{"tokyo", "2026-11-23T10:30:00Z", false}, // Monday 19:30 in Tokyo
		{"tokyo", "2026-11-22T01:00:00Z", false}, // Sunday 10:00 in Tokyo
		{"acme", "2026-11-23T19:00:00Z", false},  // end is exclusive
		{"acme", "2026-11-22T12:00:00Z", false},  // Sunday
		{"paris", "2026-11-23T08:30:00Z", true},  // 09:30 in Paris (UTC+1)
		{"paris", "2026-11-23T07:30:00Z", false}, // 08:30 in Paris
		{"paris", "2026-12-25T10:00:00Z", false}, // holiday
		// Daylight saving: Paris moves to UTC+2 on 29 March 2026 and back on
		// 25 October; 09:00 local is 08:00 UTC before and 07:00 UTC after.
		{"paris", "2026-03-27T07:30:00Z", false}, // Friday 08:30 CET
		{"paris", "2026-03-30T07:30:00Z", true},  // Monday 09:30 CEST
		{"paris", "2026-10-23T07:30:00Z", true},  // Friday 09:30 CEST
		{"paris", "2026-10-26T07:30:00Z", false}, // Monday 08:30 CET
		{"paris", "2026-10-26T16:30:00Z", true},  // Monday 17:30 CET
		// New York: UTC-4 until 1 November 2026, then UTC-5.
		{"nyc", "2026-10-30T13:30:00Z", true},  // Friday 09:30 EDT
		{"nyc", "2026-11-02T13:30:00Z", false}, // Monday 08:30 EST
		{"nyc", "2026-11-02T14:30:00Z", true},  // Monday 09:30 EST
		{"nyc", "2026-11-02T21:30:00Z", true},  // Monday 16:30 EST
		{"nyc", "2026-11-02T22:00:00Z", false}, // Monday 17:00 EST
		// India, UTC+5:30, a half-hour zone, Saturday worked.
		{"pune", "2026-11-21T04:00:00Z", true},  // Saturday 09:30 IST
		{"pune", "2026-11-21T03:59:00Z", false}, // Saturday 09:29 IST
		{"pune", "2026-11-22T06:00:00Z", false}, // Sunday
		{"pune", "2026-11-23T12:59:00Z", true},  // Monday 18:29 IST
		{"pune", "2026-11-23T13:00:00Z", false}, // Monday 18:30 IST
		// Night shift.
		{"night", "2026-11-23T21:30:00Z", true},  // Monday 22:30
		{"night", "2026-11-24T04:00:00Z", true},  // Tuesday 05:00, Monday's shift
		{"night", "2026-11-24T05:00:00Z", false}, // Tuesday 06:00, the shift ended
		{"night", "2026-11-24T12:00:00Z", false}, // Tuesday 13:00, day time
		{"night", "2026-11-28T02:00:00Z", true},  // Saturday 03:00, Friday's shift
		{"night", "2026-11-28T22:00:00Z", false}, // Saturday 23:00
		{"night", "2026-11-29T02:00:00Z", false}, // Sunday 03:00, Saturday had no shift
		{"night", "2026-11-29T21:30:00Z", false}, // Sunday 22:30
		{"night", "2026-11-23T02:00:00Z", false}, // Monday 03:00, Sunday had no shift
		{"night", "2026-12-24T22:00:00Z", false}, // 24 December 23:00, a holiday
		{"night", "2026-12-25T02:00:00Z", false}, // the holiday's night
		{"night", "2026-03-29T00:30:00Z", false}, // Sunday 01:30 CET, the night of the change: Saturday had no shift
		{"night", "2026-03-30T20:30:00Z", true},  // Monday 22:30 CEST, the first shift after the change
		{"night", "2026-03-30T19:30:00Z", false}, // Monday 21:30 CEST
		{"24x7", "2026-11-22T03:00:00Z", true},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		if got := cal.hours(tt.tenant).working(at); got != tt.want {
			t.Errorf("%s %s (%s): %v, want %v", tt.tenant, tt.at, at.In(cal.hours(tt.tenant).loc).Format("Mon 15:04 MST"), got, tt.want)
		}
	}
	bad := Calendar{Default: Hours{Timezone: "Mars/Olympus", Start: "9", End: "18:00", Weekend: []string{"Caturday"}}}
	if err := bad.compile(); err == nil || !strings.Contains(err.Error(), "Mars/Olympus") {
		t.Errorf("bad calendar: %v", err)
	}
	same := Calendar{Default: Hours{Start: "09:00", End: "09:00"}}
	if err := same.compile(); err == nil || !strings.Contains(err.Error(), "00:00 to 24:00") {
		t.Errorf("start equal to end: %v", err)
	}
}

func TestMatcher(t *testing.T) {
	s, err := Load(Options{}, "testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	var m Matcher
	e := &event.Event{Action: event.ActionRoleGrant, Outcome: event.OutcomeSuccess, Time: time.Now(),
		Targets: []event.Target{{Type: event.TargetRole, Name: "Super administrator"}}}
	if hit, err := m.Match(s.Rules[0], e); err != nil || !hit {
		t.Errorf("grant: %v %v", hit, err)
	}
	e.Actor.Email = "breakglass@acme.com"
	if hit, _ := m.Match(s.Rules[0], e); hit {
		t.Error("exception did not exempt")
	}
	e.Actor.Email, e.Targets[0].Name = "x@acme.com", "Help Desk administrator"
	if hit, _ := m.Match(s.Rules[0], e); hit {
		t.Error("a role not in the list fired")
	}
}

func TestTimeAndStringHelpers(t *testing.T) {
	dir := t.TempDir()
	src := `rules:
  - id: paris-monday-nine
    title: T
    severity: low
    when: local_hour(time, tenant) == 9 && local_weekday(time, tenant) == "Monday" && email_domain(actor.email) == "acme.com"
  - id: glob-and-regex
    title: T
    severity: low
    when: glob(actor.email, "svc-*@*") && regex(actor.ip, "^10\\.")
`
	if err := os.WriteFile(dir+"/r.yaml", []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cal := DefaultCalendar()
	cal.Tenants = map[string]Hours{"paris": {Timezone: "Europe/Paris", Start: "09:00", End: "18:00"}}
	s, err := Load(Options{Calendar: &cal}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var m Matcher
	e := &event.Event{Tenant: "paris", Time: time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC), Actor: event.Actor{Email: "Ann@ACME.com"}}
	if hit, err := m.Match(s.Rules[0], e); err != nil || !hit {
		t.Errorf("08:30 UTC is 09:30 Monday in Paris: %v %v", hit, err)
	}
	e.Tenant = "london" // default calendar: UTC
	if hit, _ := m.Match(s.Rules[0], e); hit {
		t.Error("08:30 UTC matched hour 9 in UTC")
	}
	e.Actor = event.Actor{Email: "svc-sync@acme.com", IP: "10.1.2.3"}
	if hit, err := m.Match(s.Rules[1], e); err != nil || !hit {
		t.Errorf("glob and regex: %v %v", hit, err)
	}
	e.Actor.IP = "110.1.2.3"
	if hit, _ := m.Match(s.Rules[1], e); hit {
		t.Error("regex matched 110.")
	}
}

// TestLoadBounds: rules files written to exhaust the loader (deep nesting,
// huge expressions, macros that double at each level, huge files) are
// reported as errors, quickly, not as a crash or a hang.
func TestLoadBounds(t *testing.T) {
	rule := func(when string) string {
		return "rules:\n  - id: r\n    title: T\n    severity: low\n    when: '" + when + "'\n"
	}
	var bomb strings.Builder
	bomb.WriteString("macros:\n  - name: m0\n    expr: action == \"role.grant\"\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&bomb, "  - name: m%d\n    expr: m%d && m%d\n", i, i-1, i-1)
	}
	bomb.WriteString(rule("m40"))
	tests := []struct {
		name, src, want string
	}{
		{"nesting", rule(strings.Repeat("(", 20000) + "true" + strings.Repeat(")", 20000)), "more than 64 deep"},
		{"length", rule(strings.Repeat("true && ", 20000) + "true"), "more than the 65536 allowed"},
		{"macro bomb", bomb.String(), "nodes once its macros are expanded"},
		{"file size", rule("true") + "# " + strings.Repeat("x", maxFileBytes) + "\n", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(dir+"/r.yaml", []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(Options{}, dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestTrimmedGuardIsExact: event-trimmed runs on every event, so its
// condition must be decided by the Go guard without the expression.
func TestTrimmedGuardIsExact(t *testing.T) {
	set, err := Load(Options{}, "builtin")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Rules {
		if r.ID != "event-trimmed" {
			continue
		}
		if r.Guard == nil || !r.Exact {
			t.Fatalf("event-trimmed: guard %v, exact %v", r.Guard != nil, r.Exact)
		}
		for _, tc := range []struct {
			tr   event.Trimmed
			want bool
		}{{event.Trimmed{}, false}, {event.Trimmed{Targets: 1}, true}, {event.Trimmed{Changes: 2}, true},
			{event.Trimmed{Strings: 3}, true}, {event.Trimmed{Unread: 1}, true}, {event.Trimmed{Time: "9999-12-31T00:00:00Z"}, true}} {
			if got := r.Guard(&event.Event{Trimmed: tc.tr}); got != tc.want {
				t.Errorf("guard on %+v: %v, want %v", tc.tr, got, tc.want)
			}
		}
		return
	}
	t.Fatal("no rule event-trimmed")
}

// TestHostileScheduledRules: rules lint refuses each scheduled query that
// would read another tenant, another database, a URL or a file, or change
// its settings, with the file, line and reason.
func TestHostileScheduledRules(t *testing.T) {
	_, err := Load(Options{}, "testdata/hostile")
	if err == nil {
		t.Fatal("hostile scheduled rules loaded")
	}
	for _, want := range []string{
		"scheduled.yaml:4:", "tenant != @tenant: a scheduled query reads the tenant it runs for only",
		"scheduled.yaml:10:", "system.tables: name tables without a database",
		"scheduled.yaml:16:", "url(): table functions are not allowed",
		"scheduled.yaml:24:", "file(): table functions are not allowed",
		"scheduled.yaml:30:", "SETTINGS is not allowed",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
