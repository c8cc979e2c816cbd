package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A scheduled rule's query is code that someone may slip into a rules
// repository, and it runs on the ClickHouse that holds every tenant's
// audit log. TenantScoped is what keeps it to the tenant it runs for and to
// scimwatch's own tables. It reads the query as tokens (not a full SQL
// parser: anything it does not understand is refused) and:
//
//   - accepts one SELECT (or WITH … SELECT), and no SETTINGS, FORMAT or
//     INTO OUTFILE clause;
//   - accepts in FROM and JOIN only subqueries and the unqualified names of
//     the tables in TenantTables: no other database, no table function
//     (url, file, remote, numbers…), no table of another database in IN;
//   - refuses the functions that read outside the query's tables (joinGet,
//     dictGet…, file, hasColumnInTable, getSetting…) or stall the server
//     (sleep);
//   - replaces each table name by a subquery of that tenant's rows only:
//     FROM account_days becomes
//     FROM (SELECT * FROM db.account_days WHERE tenant = @tenant) AS account_days,
//     so that WHERE tenant != @tenant finds nothing.
//
// The loader calls it when a rules file loads (rules lint reports what it
// refuses, with the file and line); the querier calls it again on the
// query it is about to run. The ClickHouse user the queries run as is the
// last line: read-only, on scimwatch's database alone (README, "Least
// privilege").

// TenantTables are the tables a scheduled query may read: scimwatch's own,
// each with a tenant column.
var TenantTables = []string{
	"events", "events_unique", "account_days", "account_roles", "accounts", "accounts_roles", "tenants",
	"app_access", "app_signins", "app_writes", "credentials", "alerts", "alert_changes", "scheduled_reports",
	"events_hourly", "actors_daily", "targets_daily", "failures_daily",
}

// deniedFunctions read outside the tables of the query (other tables,
// dictionaries, files, URLs, other servers, settings), or stall the server.
var deniedFunctions = []string{
	"joinget", "joingetornull", "hascolumnintable", "getsetting", "getsettingordefault", "file", "url", "remote",
	"remotesecure", "cluster", "clusterallreplicas", "mysql", "postgresql", "jdbc", "odbc", "hdfs", "s3", "s3cluster",
	"gcs", "azureblobstorage", "mongodb", "redis", "sqlite", "executable", "input", "merge", "dictionary", "view",
	"sleep", "sleepeachrow", "catboostevaluate", "modelevaluate", "getmacro", "filesystemavailable",
	"filesystemcapacity", "filesystemunreserved", "addresstoline", "addresstolinewithinlines", "addresstosymbol",
	"demangle", "iceberg", "deltalake", "hudi", "generaterandom", "numbers", "zeros", "values", "loop",
}

// clauseWords end a FROM list.
var clauseWords = []string{"where", "prewhere", "group", "order", "limit", "having", "union", "join", "inner", "left",
	"right", "full", "cross", "any", "all", "asof", "semi", "anti", "global", "array", "on", "using", "final", "sample",
	"settings", "format", "into", "window", "qualify", "except", "intersect", "offset", "paste", "natural", "outer", "with"}

// TenantScoped returns query with every table it reads scoped to @tenant
// in database db, or why the query is refused. db may be "" (the load-time
// check): the scoped query then names the tables unqualified.
func TenantScoped(query, db string) (string, error) {
	toks, err := tokenize(query)
	if err != nil {
		return "", err
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tPunct && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return "", errors.New("the query is empty")
	}
	if first := toks[0].lower(); toks[0].kind != tWord || first != "select" && first != "with" {
		return "", fmt.Errorf("the query must be a SELECT, not %q", toks[0].text)
	}
	var out strings.Builder
	prev := 0 // the end of what was copied to out
	// Per open parenthesis: is it a (sub)query, whose FROM names tables
	// (not EXTRACT(DAY FROM t) or trim(BOTH ' ' FROM s)), and is a FROM
	// list open at that depth (where a comma would join another table).
	// joined: a subquery right of JOIN, which needs an alias.
	type level struct{ query, inFrom, joined bool }
	stack := []level{{query: true}}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		top := &stack[len(stack)-1]
		next := func(k int) *token {
			if i+k < len(toks) {
				return &toks[i+k]
			}
			return nil
		}
		switch t.kind {
		case tPunct:
			switch t.text {
			case ";":
				return "", errors.New("one statement only: the query has a ; in it")
			case "(":
				n := next(1)
				sub := n != nil && n.kind == tWord && (n.lower() == "select" || n.lower() == "with")
				stack = append(stack, level{query: sub, joined: sub && i > 0 && toks[i-1].lower() == "join"})
			case ")":
				if len(stack) == 1 {
					return "", errors.New("a ) closes nothing")
				}
				if top.joined && !aliased(toks, i+1) {
					return "", errJoinAlias
				}
				stack = stack[:len(stack)-1]
			case ",":
				if top.inFrom {
					return "", errors.New("tables separated by commas (an implicit CROSS JOIN) are not allowed: write CROSS JOIN")
				}
			}
			continue
		case tWord:
		default:
			continue
		}
		w := t.lower()
		called := next(1) != nil && next(1).text == "("
		switch {
		case w == "settings" || w == "into" || w == "outfile":
			return "", fmt.Errorf("%s is not allowed in a scheduled query: its settings and output are scimwatch's", strings.ToUpper(w))
		case w == "format" && !called:
			return "", errors.New("FORMAT is not allowed in a scheduled query")
		case called && (slices.Contains(deniedFunctions, w) || strings.HasPrefix(w, "dict")):
			return "", fmt.Errorf("%s() is not allowed in a scheduled query: it reads outside scimwatch's tables or stalls the server", t.text)
		case w == "in":
			if n := next(1); n != nil && (n.kind == tWord || n.kind == tQuoted) && n.lower() != "select" && !(i+2 < len(toks) && toks[i+2].text == "(") {
				return "", fmt.Errorf("IN %s: name a subquery, not a table", n.text)
			}
		case w == "tenant" && !called:
			if err := tenantComparison(toks, i); err != nil {
				return "", err
			}
		case w == "join" && i > 0 && toks[i-1].lower() == "array":
			// ARRAY JOIN names arrays, not tables.
		case w == "join" && joinedLeft(toks, i) == ")":
			return "", errJoinAlias
		case w == "any" && next(1) != nil && slices.Contains([]string{"join", "inner", "right"}, next(1).lower()):
			return "", errors.New("ANY INNER JOIN and ANY RIGHT JOIN keep one row per left row on ClickHouse 18.16 and one row per key of both sides on current releases: " +
				"make the right side's keys unique (GROUP BY them) and write ALL INNER JOIN, which means the same on both")
		case (w == "from" || w == "join") && top.query:
			k, end, err := tableRef(toks, i+1)
			if err != nil {
				return "", err
			}
			if k == "" { // a subquery: its tokens are read by this loop
				top.inFrom = w == "from"
				continue
			}
			out.WriteString(query[prev:toks[i+1].pos])
			out.WriteString(scoped(k, toks, i+1, end, db))
			prev = toks[end-1].end
			i = skipAlias(toks, end) - 1
			top.inFrom = w == "from"
		case top.query && slices.Contains(clauseWords, w):
			top.inFrom = false
		}
	}
	if len(stack) != 1 {
		return "", errors.New("a ( is not closed")
	}
	out.WriteString(query[prev:])
	return out.String(), nil
}

// errJoinAlias: current ClickHouse (since 20.x; setting
// joined_subquery_requires_alias) refuses a joined subquery without one.
var errJoinAlias = errors.New("a joined subquery needs an alias, (SELECT …) AS name: current ClickHouse refuses one without")

// aliased: toks[j] starts an alias (AS name, or a name that is not a clause
// word).
func aliased(toks []token, j int) bool {
	if j >= len(toks) {
		return false
	}
	w := toks[j].lower()
	return toks[j].kind == tQuoted || toks[j].kind == tWord && (w == "as" || !slices.Contains(clauseWords, w))
}

// joinedLeft is the token before the JOIN at toks[i] and its kind words
// (ALL INNER, GLOBAL ANY LEFT OUTER...): ")" when the left side is a
// subquery without an alias.
func joinedLeft(toks []token, i int) string {
	j := i - 1
	for j >= 0 && toks[j].kind == tWord && slices.Contains([]string{"all", "any", "inner", "left", "right", "full", "outer", "cross",
		"global", "semi", "anti", "asof", "natural", "paste"}, toks[j].lower()) {
		j--
	}
	if j < 0 {
		return ""
	}
	return toks[j].text
}

// tenantComparison refuses a comparison of the tenant column with
// anything but "= @tenant": the rows are scoped to the tenant anyway, and a
// query that asks for others is an attack or a mistake, said at lint.
func tenantComparison(toks []token, i int) error {
	j := i + 1
	var op []string
	for j < len(toks) && (toks[j].kind == tPunct && strings.ContainsAny(toks[j].text, "=!<>") || toks[j].kind == tWord && slices.Contains([]string{"in", "not", "like", "ilike", "between", "global"}, toks[j].lower())) {
		op = append(op, toks[j].text)
		j++
	}
	if len(op) == 0 {
		return nil // a column read, not compared here
	}
	o := strings.Join(op, "")
	if (o == "=" || o == "==") && j < len(toks) && toks[j].kind == tParam && toks[j].text == "@tenant" {
		return nil
	}
	what := "the query's end"
	if j < len(toks) {
		what = toks[j].text
	}
	return fmt.Errorf("tenant %s %s: a scheduled query reads the tenant it runs for only (tenant = @tenant)", o, what)
}

// tableRef reads the table reference at toks[j]: a subquery (k "": its
// tokens are read by the main loop) or a table of TenantTables (k its
// name, end after it and FINAL if any).
func tableRef(toks []token, j int) (k string, end int, err error) {
	if j >= len(toks) {
		return "", j, errors.New("the query ends where a table was expected")
	}
	t := toks[j]
	if t.text == "(" {
		return "", j, nil
	}
	if t.kind != tWord && t.kind != tQuoted {
		return "", j, fmt.Errorf("%q where a table was expected", t.text)
	}
	if j+1 < len(toks) && toks[j+1].text == "." {
		return "", j, fmt.Errorf("%s.%s: name tables without a database (the query runs on scimwatch's own)", t.text, nameAt(toks, j+2))
	}
	if j+1 < len(toks) && toks[j+1].text == "(" {
		return "", j, fmt.Errorf("%s(): table functions are not allowed in a scheduled query", t.text)
	}
	name := t.name()
	if !slices.Contains(TenantTables, name) {
		return "", j, fmt.Errorf("table %q: a scheduled query reads only scimwatch's tables (%s)", name, strings.Join(TenantTables, ", "))
	}
	end = j + 1
	if end < len(toks) && toks[end].lower() == "final" && toks[end].kind == tWord {
		end++
	}
	return name, end, nil
}

func nameAt(toks []token, j int) string {
	if j < len(toks) {
		return toks[j].text
	}
	return ""
}

// skipAlias steps over "AS alias" or a bare alias after a table reference.
func skipAlias(toks []token, j int) int {
	if j < len(toks) && toks[j].lower() == "as" {
		return j + 2
	}
	if j < len(toks) && (toks[j].kind == tWord && !slices.Contains(clauseWords, toks[j].lower()) || toks[j].kind == tQuoted) {
		return j + 1
	}
	return j
}

// scoped is the subquery that replaces table reference toks[j:end].
func scoped(table string, toks []token, j, end int, db string) string {
	final := ""
	if end-j == 2 {
		final = " FINAL"
	}
	qualified := table
	if db != "" {
		qualified = db + "." + table
	}
	s := "(SELECT * FROM " + qualified + final + " WHERE tenant = @tenant)"
	if end >= len(toks) || (toks[end].lower() != "as" && !(toks[end].kind == tWord && !slices.Contains(clauseWords, toks[end].lower())) && toks[end].kind != tQuoted) {
		s += " AS " + table // no alias of its own: the table's name, as the query refers to it
	}
	return s
}

// Tokens.
const (
	tWord   = iota // an identifier or keyword
	tQuoted        // "identifier" or `identifier`
	tString        // 'string'
	tNumber
	tParam // @name
	tPunct
)

type token struct {
	kind     int
	text     string
	pos, end int
}

func (t token) lower() string { return strings.ToLower(t.text) }

// name is an identifier's name, unquoted.
func (t token) name() string {
	if t.kind == tQuoted {
		return t.text[1 : len(t.text)-1]
	}
	return t.text
}

// tokenize splits a query into tokens, dropping whitespace and comments.
// What ClickHouse might read differently (# comments, $heredoc$ strings,
// escapes in identifiers, an unterminated string) is refused.
func tokenize(q string) ([]token, error) {
	var toks []token
	for i := 0; i < len(q); {
		c := q[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			e := strings.Index(q[i+2:], "*/")
			if e < 0 {
				return nil, errors.New("a /* comment is not closed")
			}
			if strings.Contains(q[i+2:i+2+e], "/*") {
				return nil, errors.New("nested /* comments are not allowed")
			}
			i += e + 4
			continue
		case c == '#' || c == '$':
			return nil, fmt.Errorf("%q at byte %d: not allowed in a scheduled query", c, i)
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(q) && q[j] != c; j++ {
				if q[j] == '\\' {
					if c != '\'' {
						return nil, fmt.Errorf("an escape in a quoted name at byte %d", j)
					}
					j++
				}
			}
			if j >= len(q) {
				return nil, fmt.Errorf("a quote opened at byte %d is not closed", i)
			}
			i = j + 1
			kind := tQuoted
			if c == '\'' {
				kind = tString
			}
			toks = append(toks, token{kind: kind, text: q[start:i], pos: start, end: i})
			continue
		case c == '@':
			i++
			for i < len(q) && isWordByte(q[i]) {
				i++
			}
			toks = append(toks, token{kind: tParam, text: q[start:i], pos: start, end: i})
			continue
		case isWordByte(c) && !(c >= '0' && c <= '9'):
			for i < len(q) && isWordByte(q[i]) {
				i++
			}
			toks = append(toks, token{kind: tWord, text: q[start:i], pos: start, end: i})
			continue
		case c >= '0' && c <= '9':
			for i < len(q) && (isWordByte(q[i]) || q[i] == '.') {
				i++
			}
			toks = append(toks, token{kind: tNumber, text: q[start:i], pos: start, end: i})
			continue
		case c >= 0x80:
			return nil, fmt.Errorf("a non-ASCII character outside a string at byte %d", i)
		}
		i++
		toks = append(toks, token{kind: tPunct, text: q[start:i], pos: start, end: i})
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
