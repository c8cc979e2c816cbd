// Package rulegen writes rules files from a stream of choices, for
// structure-aware fuzzing of the rules loader and the engine: the fuzzer's
// bytes pick productions of expr's grammar over the canonical event's
// fields, the rule helpers and expr's built-ins, and of the rules file's
// YAML (lists, macros, thresholds, sequences, dedup, templates, tests).
// Most of what it writes is well-typed, so the loader's later stages (type
// check, guards, action index, templates) are reached, not only the parser;
// the rest is deliberately wrong in the ways a rule author, or an attacker
// with write access to a rules directory, would get it wrong.
package rulegen

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Choices is a stream of decisions. When the bytes run out every choice is
// 0, which always picks a terminal production, so generation ends.
type Choices struct {
	b []byte
	i int
}

// New returns the choices of b.
func New(b []byte) *Choices { return &Choices{b: b} }

// Intn returns a choice in [0, n).
func (c *Choices) Intn(n int) int {
	if n <= 1 || c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i])
	c.i++
	return v % n
}

func (c *Choices) pick(ss ...string) string { return ss[c.Intn(len(ss))] }

// good returns ok, or one time in eight one of the bad alternatives.
func (c *Choices) good(ok string, bad ...string) string {
	if c.Intn(8) != 7 {
		return ok
	}
	return c.pick(bad...)
}

// Expression types the generator aims at.
const (
	Bool = iota
	String
	Int
	Time
	Any
	numTypes
)

var (
	stringFields = []string{"id", "tenant", "source", "raw_type", "action", "outcome", "reason", "correlation_id",
		"actor.id", "actor.type", "actor.name", "actor.email", "actor.ip", "actor.user_agent"}
	elemFields = []string{".id", ".type", ".name", ".email", ".field", ".old", ".new", ".nope"}
	constants  = []string{`"user.create"`, `"role.grant"`, `"success"`, `"failure"`, `"user"`, `"role"`,
		`"Global Administrator"`, `"acme"`, `""`, `"é–\u00a0"`, `"\\u0000"`, `"*"`, `"a|b"`}
	lists    = []string{`"privileged"`, `"admins"`, `"nope"`, `""`}
	patterns = []string{`"^10\\."`, `"svc-*@*"`, `"([a-z"`, `"[!"`, `".*"`, `"(a+)+$"`}
	helpers  = []string{"local_hour", "local_weekday", "business_hours", "in_list", "email_domain", "glob", "regex"}
)

// Expr writes an expression of about type t, at most depth deep.
func (c *Choices) Expr(t, depth int) string {
	if depth <= 0 || c.Intn(4) == 0 {
		return c.leaf(t)
	}
	d := depth - 1
	switch t {
	case Bool:
		switch c.Intn(16) {
		case 0:
			return c.Expr(Bool, d) + c.pick(" && ", " || ", " and ", " or ") + c.Expr(Bool, d)
		case 1:
			return c.pick("!", "not ") + "(" + c.Expr(Bool, d) + ")"
		case 2:
			return c.Expr(String, d) + c.pick(" == ", " != ", " startsWith ", " endsWith ", " contains ", " matches ", " < ") + c.Expr(String, d)
		case 3:
			return c.Expr(String, d) + " in [" + c.Expr(String, d) + ", " + c.leaf(String) + "]"
		case 4:
			return c.pick("any", "all", "none", "one") + "(" + c.pick("targets", "changes") + ", " + c.pred(d) + ")"
		case 5:
			return "in_list(" + c.Expr(String, d) + ", " + c.pick(append(lists, c.Expr(String, d))...) + ")"
		case 6:
			return c.pick("glob", "regex") + "(" + c.Expr(String, d) + ", " + c.pick(append(patterns, c.Expr(String, d))...) + ")"
		case 7:
			return "business_hours(" + c.Expr(Time, d) + ", " + c.Expr(String, d) + ")"
		case 8:
			return c.Expr(Int, d) + c.pick(" > ", " <= ", " == ", " != ") + c.Expr(Int, d)
		case 9:
			return c.Expr(Bool, d) + " ? " + c.Expr(Bool, d) + " : " + c.Expr(Bool, d)
		case 10:
			return "(" + c.Expr(Bool, d) + ")"
		case 11:
			return c.macroName()
		case 12:
			return "let x = " + c.Expr(Any, d) + "; " + c.Expr(Bool, d)
		case 13:
			return c.Expr(Time, d) + c.pick(" > ", " < ", " == ") + c.Expr(Time, d)
		case 14:
			return c.Expr(Any, d) + c.pick(" == ", " in ", " ?? ") + c.Expr(Any, d)
		default:
			return c.Expr(Int, d) + " in " + c.Expr(Any, d)
		}
	case String:
		switch c.Intn(10) {
		case 0:
			return c.pick("lower", "upper", "trim", "email_domain", "string", "toJSON") + "(" + c.Expr(String, d) + ")"
		case 1:
			return "find(" + c.pick("targets", "changes") + ", " + c.pred(d) + ")?" + c.pick(elemFields...) + " ?? " + c.Expr(String, d)
		case 2:
			return c.Expr(String, d) + " + " + c.Expr(String, d)
		case 3:
			return "local_weekday(" + c.Expr(Time, d) + ", " + c.Expr(String, d) + ")"
		case 4:
			return c.pick("targets", "changes", "filter(targets, "+c.pred(d)+")") + "[" + c.Expr(Int, d) + "]" + c.pick(elemFields...)
		case 5:
			return c.Expr(String, d) + "[" + c.Expr(Int, d) + ":" + c.Expr(Int, d) + "]"
		case 6:
			return c.Expr(Bool, d) + " ? " + c.Expr(String, d) + " : " + c.Expr(String, d)
		case 7:
			return "join(map(" + c.pick("targets", "changes") + ", " + c.pick(elemFields...) + "), " + c.Expr(String, d) + ")"
		case 8:
			return "split(" + c.Expr(String, d) + ", " + c.Expr(String, d) + ")[" + c.Expr(Int, d) + "]"
		default:
			return c.Expr(String, d) + " | " + c.pick("lower()", "trim()", "upper()")
		}
	case Int:
		switch c.Intn(7) {
		case 0:
			return "len(" + c.pick("targets", "changes", c.Expr(String, d), "raw") + ")"
		case 1:
			return "local_hour(" + c.Expr(Time, d) + ", " + c.Expr(String, d) + ")"
		case 2:
			return c.Expr(Int, d) + c.pick(" + ", " - ", " * ", " / ", " % ", " ** ") + c.Expr(Int, d)
		case 3:
			return "count(" + c.pick("targets", "changes") + ", " + c.pred(d) + ")"
		case 4:
			return c.pick("abs", "int", "max", "min") + "(" + c.Expr(Int, d) + ")"
		case 5:
			return c.Expr(Time, d) + "." + c.pick("Hour()", "Unix()", "Year()", "Nope()")
		default:
			return "findIndex(targets, " + c.pred(d) + ")"
		}
	case Time:
		switch c.Intn(4) {
		case 0:
			return c.Expr(Time, d) + c.pick(" + ", " - ") + "duration(" + c.pick(`"1h"`, `"-5m"`, `"x"`, c.Expr(String, d)) + ")"
		case 1:
			return "date(" + c.Expr(String, d) + ")"
		case 2:
			return "now()"
		default:
			return "time"
		}
	default:
		return c.Expr(c.Intn(numTypes), d)
	}
}

// pred writes the predicate of any(), filter(), find().
func (c *Choices) pred(depth int) string {
	if depth <= 0 || c.Intn(3) == 0 {
		return c.pick(elemFields...) + " == " + c.leaf(String)
	}
	d := depth - 1
	switch c.Intn(5) {
	case 0:
		return c.pred(d) + c.pick(" && ", " || ") + c.pred(d)
	case 1:
		return "!(" + c.pred(d) + ")"
	case 2:
		return "in_list(lower(" + c.pick(elemFields...) + "), " + c.pick(lists...) + ")"
	case 3:
		return c.pick(elemFields...) + " == " + c.pick("actor.id", "#.id", "tenant", c.Expr(String, d))
	default:
		return c.Expr(Bool, d)
	}
}

func (c *Choices) leaf(t int) string {
	switch t {
	case Bool:
		return c.pick("true", "false", "outcome == \"success\"", c.macroName(), "action == "+c.pick(constants...),
			c.good("actor.id != \"\"", "in_list(actor.id, tenant)", "nil", "1"))
	case String:
		if c.Intn(2) == 0 {
			return c.pick(stringFields...)
		}
		return c.good(c.pick(constants...), "actor.emial", "targets[0].id", "nil", "raw")
	case Int:
		return c.pick("0", "1", "-1", "20", "9223372036854775807", "1e308", "len(targets)", "0x10")
	case Time:
		return c.pick("time", `date("2026-11-20T03:00:00Z")`, "now()")
	}
	return c.good(c.pick("targets", "changes", "actor", "raw", "{}", "[]"), "nil", "#", "$env", "x")
}

func (c *Choices) macroName() string {
	return c.good(c.pick("succeeded", "admin_target"), "undefined_macro", "later")
}

// File writes a rules file of up to n rules.
func (c *Choices) File(n int) string {
	var b strings.Builder
	b.WriteString("lists:\n  - name: privileged\n    items: [global administrator, super administrator]\n")
	if c.Intn(4) == 0 {
		b.WriteString("  - name: " + c.good("admins", "privileged", "") + "\n    " + c.good("items: [a, b]", "file: missing.txt", "items: 3") + "\n")
	}
	b.WriteString("macros:\n")
	fmt.Fprintf(&b, "  - name: succeeded\n    expr: %s\n", q(c.pick(`outcome == "success"`, c.Expr(Bool, 2))))
	fmt.Fprintf(&b, "  - name: admin_target\n    expr: %s\n", q(c.pick(`any(targets, .type == "role" && in_list(lower(.name), "privileged"))`, c.Expr(Bool, 3))))
	if c.Intn(3) == 0 {
		fmt.Fprintf(&b, "  - name: %s\n    expr: %s\n", c.good("later", "in_list", "succeeded", "1x"), q(c.Expr(Any, 3)))
	}
	b.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		c.rule(&b, i)
		if c.Intn(3) == 0 {
			break
		}
	}
	return b.String()
}

func (c *Choices) rule(b *strings.Builder, i int) {
	fmt.Fprintf(b, "  - id: %s\n", c.good(fmt.Sprintf("rule-%d", i), "Bad ID", "rule-0"))
	kind := c.Intn(7)
	fmt.Fprintf(b, "    title: %s\n", q(c.text(kind)))
	fmt.Fprintf(b, "    severity: %s\n", c.good(c.pick("high", "low", "critical"), "urgent", ""))
	if c.Intn(3) == 0 {
		fmt.Fprintf(b, "    summary: %s\n", q(c.text(kind)))
	}
	if kind != 3 && kind != 6 {
		fmt.Fprintf(b, "    when: %s\n", q(c.Expr(Bool, 5)))
	}
	switch kind {
	case 1:
		fmt.Fprintf(b, "    threshold: {count: %s, window: %s, group_by: [%s, %s]",
			c.good(c.pick("3", "20"), "0", "-1", "1000000000", "x"), c.good(c.pick("10m", "1h", "7d"), "0s", "x"), q(c.pick("tenant", "actor.id", c.Expr(Any, 3))), q(c.Expr(String, 3)))
		if c.Intn(2) == 0 {
			fmt.Fprintf(b, ", distinct: %s", q(c.Expr(Any, 3)))
		}
		b.WriteString("}\n")
	case 3:
		fmt.Fprintf(b, "    sequence:\n      by: %s\n      within: %s\n      steps:\n", q(c.Expr(Any, 3)), c.good(c.pick("1h", "24h"), "0s", ""))
		for s := 0; s < 2+c.Intn(3); s++ {
			fmt.Fprintf(b, "        - name: s%d\n          when: %s\n", s, q(c.Expr(Bool, 4)))
		}
	case 4:
		fmt.Fprintf(b, "    new_term:\n      by: %s\n      fields: [%s, %s]\n      history: %s\n      min_history: %s\n",
			q(c.pick("actor.id", c.Expr(Any, 3))), q(c.pick("actor.ip", "actor.user_agent", c.Expr(Any, 3))), q(c.good("ip_prefix(actor.ip)", "1/0", "")),
			c.good(c.pick("30d", "8w"), "0s", "-1d", "x", "100000d"), c.good(c.pick("1d", "7d"), "60d", "x"))
		if c.Intn(2) == 0 {
			fmt.Fprintf(b, "      learn: %s\n", q(c.Expr(Bool, 3)))
		}
	case 5:
		fmt.Fprintf(b, "    baseline:\n      by: %s\n      history: %s\n      min_history: %s\n",
			q(c.pick("actor.id", c.Expr(Any, 3))), c.good(c.pick("8w", "14d"), "0s", "x"), c.good("7d", "20w", "-1h"))
		switch c.Intn(3) {
		case 0:
			fmt.Fprintf(b, "      rate: {seasonality: %s, min_count: %s, deviations: %s}\n",
				c.good(c.pick("hour_of_week", "hour_of_day", "none"), "weekly", ""), c.good(c.pick("10", "1"), "0", "-5", "x"), c.good(c.pick("5", "3.5"), "0", "-1", "NaN", ".inf"))
		case 1:
			fmt.Fprintf(b, "      hours: {max_share: %s, min_events: %s, fallback: %s}\n",
				c.good(c.pick("0.01", "0.2"), "0", "1.5", "-0.1", ".nan"), c.good(c.pick("50", "1"), "-1", "x"), c.good(c.pick("tenant", "none"), "nobody"))
		default:
			b.WriteString(c.good("", "      rate: {}\n      hours: {}\n") + "")
		}
	case 6:
		fmt.Fprintf(b, "    when: %s\n    scheduled:\n      interval: %s\n      period: %s\n      params: {days: %s, admins: {list: %s}}\n      query: %s\n",
			q(c.pick("row.idle_days >= params.days", "row.n > 3 && row.key != \"\"", c.Expr(Bool, 3))),
			c.good(c.pick("1h", "6h"), "1s", "0s", "x"), c.good("30d", "-1d", ""), c.good("90", "\"x\"", "[1, {a: b}]"), c.good("privileged", "nope", "\"\""),
			q(c.good("SELECT user_id AS key, 1 AS n FROM account_days WHERE tenant = @tenant AND day <= toDate(@now)",
				"SELECT 1", "SELECT * FROM t WHERE tenant = '@tenant'", "", "SELECT @undefined_param AS key WHERE tenant = @tenant")))
		if c.Intn(2) == 0 {
			fmt.Fprintf(b, "      key: %s\n", q(c.pick("row.key", c.Expr(Any, 3))))
		}
		if c.Intn(2) == 0 {
			fmt.Fprintf(b, "      limits: {timeout: %s, max_rows_to_read: %s, max_rows: %s}\n", c.good("30s", "0s", "x"), c.good("1000000", "-1"), c.good("1000", "-1", "0"))
		}
	}
	if c.Intn(4) == 0 {
		fmt.Fprintf(b, "    max_alerts_per_day: %s\n", c.good("5", "-1", "x"))
	}
	if kind == 6 && c.Intn(8) != 7 {
		// Scheduled rules take neither exceptions nor dedup, and test rows.
		if c.Intn(2) == 0 {
			fmt.Fprintf(b, "    tests:\n      - name: t\n        now: %q\n        tenant: acme\n        rows:\n          - {key: u1, idle_days: %s, n: 5}\n          - {key: u2}\n        alerts: %s\n",
				c.good("2026-11-20T03:00:00Z", "yesterday"), c.good("120", "\"x\"", "[]"), c.good(c.pick("1", "0"), "x"))
		}
		return
	}
	if c.Intn(3) == 0 {
		fmt.Fprintf(b, "    exceptions:\n      - %s\n", q(c.Expr(Bool, 3)))
	}
	if c.Intn(3) == 0 {
		fmt.Fprintf(b, "    dedup: {key: %s, period: %s}\n", q(c.Expr(Any, 3)), c.good(c.pick("1h", "10m"), "-1s"))
	}
	if c.Intn(2) == 0 {
		fmt.Fprintf(b, "    tests:\n      - name: t\n        events:\n")
		fmt.Fprintf(b, "          - {time: %q, tenant: acme, action: %s, outcome: success, actor: {id: a1}, targets: [{type: role, name: Global Administrator}]%s}\n",
			c.good(c.pick("2026-11-20T03:00:00Z", "2026-11-20T03:00:00+14:00"), "not a time"), c.good(c.pick("role.grant", "user.create"), "nope"), c.good(c.pick("", ", repeat: 3"), ", repeat: -1", ", repeat: 2, every: x"))
		if c.Intn(2) == 0 {
			b.WriteString("          - raw: {eventType: user.lifecycle.create, published: \"2026-11-20T03:00:00Z\", uuid: u1}\n            source: " + c.good(c.pick("okta", "entra"), "nope") + "\n")
		}
		fmt.Fprintf(b, "        alerts: %s\n", c.good(c.pick("1", "0"), "x"))
	}
}

// text writes a title or summary, plain or a template.
func (c *Choices) text(kind int) string {
	parts := []string{"Alert", "{{who .Event.Actor}}", "{{targets .Event \"user\"}}", "{{.Count}}", "{{.Key}}",
		"{{.First.Format \"15:04\"}}", "{{range .Event.Targets}}{{.Name}}{{end}}",
		"{{if not (targets .Event \"app\")}}{{who .Event.Actor}}{{end}}", "{{printf \"%d\" .Key}}"}
	switch kind {
	case 4:
		parts = append(parts, "{{.Term}}")
	case 5:
		parts = append(parts, "{{with .Stats}}{{.Observed}} {{pct .Share}} {{span .History}}{{end}}", "{{num .Stats.High}} {{.Stats.Hour}}")
	case 6:
		parts = []string{"Idle", "{{.Row.key}} {{date .Row.last_used}}", "{{.Row.idle_days}} days", "{{num .Row.n}}", "{{.Event.Tenant}}"}
	}
	var out []string
	for n := 1 + c.Intn(3); n > 0; n-- {
		out = append(out, c.good(c.pick(parts...), "{{.Event.Nope}}", "{{", "{{template \"x\"}}", "{{call .Rule}}"))
	}
	return strings.Join(out, " ")
}

// q quotes s as a YAML double-quoted scalar (JSON's string syntax is one).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
