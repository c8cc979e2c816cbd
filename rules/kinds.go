package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/scimwatch/scimwatch/event"
)

// The rule kinds that learn from history (new_term, baseline) and the kind
// that asks ClickHouse (scheduled).

type newTermSpec struct {
	By         yaml.Node   `yaml:"by"`
	Fields     []yaml.Node `yaml:"fields"`
	Learn      yaml.Node   `yaml:"learn"`
	History    string      `yaml:"history"`
	MinHistory string      `yaml:"min_history"`
}

type baselineSpec struct {
	By         yaml.Node `yaml:"by"`
	Learn      yaml.Node `yaml:"learn"`
	History    string    `yaml:"history"`
	MinHistory string    `yaml:"min_history"`
	Rate       *struct {
		Seasonality string  `yaml:"seasonality"`
		MinCount    int     `yaml:"min_count"`
		Deviations  float64 `yaml:"deviations"`
	} `yaml:"rate"`
	Hours *struct {
		MaxShare  float64 `yaml:"max_share"`
		MinEvents int     `yaml:"min_events"`
		Fallback  string  `yaml:"fallback"`
	} `yaml:"hours"`
}

type scheduledSpec struct {
	Query    yaml.Node            `yaml:"query"`
	Interval string               `yaml:"interval"`
	Period   string               `yaml:"period"`
	Key      yaml.Node            `yaml:"key"`
	Params   map[string]yaml.Node `yaml:"params"`
	Limits   struct {
		Timeout       string `yaml:"timeout"`
		MaxRowsToRead int64  `yaml:"max_rows_to_read"`
		MaxRows       int    `yaml:"max_rows"`
	} `yaml:"limits"`
}

// Learning is what a history rule learns from: the events its Learn
// expression holds for (the rule's when when it has none), keyed by By.
type Learning struct {
	By      *vm.Program
	ByField func(*event.Event) string // By read directly where it is a plain field
	// Learn is nil when the rule learns from the events its when matches.
	Learn      *vm.Program
	LearnGuard Guard
	LearnExact bool
	// History is how far back the rule remembers; MinHistory how much of
	// it a rule (new_term) or a key (baseline) needs before it may fire.
	History, MinHistory time.Duration
	// Fingerprint changes when what the state means changes (by, fields,
	// learn, when): a reload keeps the state only if it is unchanged.
	Fingerprint string
}

// NewTerm fires the first time a combination of Fields is seen for a key
// within History. The first term of a key never seen before does not fire
// (the key is new, not the term), nor does anything before the rule has
// learned MinHistory of event time.
type NewTerm struct {
	Learning
	Fields      []*vm.Program
	FieldFuncs  []func(*event.Event) string
	FieldsShown []string // the fields as written, for alert texts
}

// Baseline compares a key's activity with its own history: Rate counts
// events per hour against the same hour in past weeks (or days); Hours
// fires on an event at an hour of the day (on a workday, or on a weekend
// day) at which the key has essentially never been active.
type Baseline struct {
	Learning
	Rate  *Rate
	Hours *ActivityHours
}

// Seasonalities of a rate baseline.
const (
	SeasonHourOfWeek = "hour_of_week"
	SeasonHourOfDay  = "hour_of_day"
	SeasonNone       = "none"
)

// Rate fires when a key's events in one hour exceed
// max(MinCount, median + Deviations × σ) of the same hour in its history,
// σ being 1.4826 × the median absolute deviation (at least 1).
type Rate struct {
	Seasonality string
	MinCount    int
	Deviations  float64
}

// ActivityHours fires on an event at an hour of the day (±1 hour, in the
// tenant's time zone, on days of the same kind: workdays, or the tenant
// calendar's weekend days) that holds less than MaxShare of the key's
// learned events. A key with fewer than MinEvents learned events, or less than
// MinHistory of them, is judged by its tenant's hours when Fallback is
// "tenant", and not at all when it is "none".
type ActivityHours struct {
	MaxShare  float64
	MinEvents int
	Fallback  string
}

// Scheduled runs Query on ClickHouse every Interval, once per tenant, and
// raises an alert for each returned row the rule's when holds for. A key
// (Key over the row) is reported at most once per Period.
type Scheduled struct {
	Query    string
	Interval time.Duration
	Period   time.Duration
	// Key renders a row's key; nil: the row's key column.
	Key *vm.Program
	// Params are bound to @name in the query and seen as params.name by
	// when and key; a tenant's overrides replace them.
	Params map[string]any
	// Limits of one run: wall time, rows read, rows returned.
	Timeout       time.Duration
	MaxRowsToRead int64
	MaxRows       int
}

// RowEnv is what a scheduled rule's when and key see: the row by column
// name, the tenant the query ran for, the time it ran at, and the params.
type RowEnv struct {
	Row    map[string]any `expr:"row"`
	Tenant string         `expr:"tenant"`
	Now    time.Time      `expr:"now"`
	Params map[string]any `expr:"params"`
}

// Bounds of the history kinds.
const (
	MaxHistory       = 26 * 7 * 24 * time.Hour
	MinInterval      = time.Minute
	maxParams        = 64
	maxQueryBytes    = 64 << 10
	defaultMaxRows   = 10000
	maxMaxRows       = 1000000
	defaultRowsRead  = 100000000
	defaultTimeout   = 30 * time.Second
	maxTimeout       = 10 * time.Minute
	defaultTermHist  = 30 * 24 * time.Hour
	defaultTermMin   = 7 * 24 * time.Hour
	defaultBaseHist  = 8 * 7 * 24 * time.Hour
	defaultBaseMin   = 14 * 24 * time.Hour
	defaultPeriod    = 30 * 24 * time.Hour
	defaultInterval  = time.Hour
	defaultMinCount  = 10
	defaultDevs      = 5
	defaultMaxShare  = 0.01
	defaultMinEvents = 50
)

// queryParam finds @name placeholders outside quotes (a rough scan: the
// driver does the binding; this only checks that every name is known).
var queryParam = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)

// BuiltinParams are bound for every scheduled query: @tenant (String),
// @now (DateTime) and @now_ms (milliseconds since the epoch, UInt64).
var BuiltinParams = []string{"tenant", "now", "now_ms"}

// durationOr parses s, or gives def when s is empty.
func durationOr(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return parseDuration(s)
}

// loadHistory compiles the new_term, baseline or scheduled part of a rule.
// compileAny, compileBool and compileRow compile an expression at its
// node; bad reports an error at the rule.
func (l *loader) loadHistory(p *parsed, rs *ruleSpec, r *Rule, nm int, bad func(string, ...any), compileAny func(*yaml.Node) *vm.Program) {
	learning := func(by, learn *yaml.Node, hist, minHist string, defHist, defMin time.Duration) Learning {
		var lg Learning
		var err error
		if by.Value == "" {
			bad("by is required: the key whose history is learned (actor.id, for example)")
		} else {
			lg.By = compileAny(by)
			lg.ByField = guardFields[strings.TrimSpace(by.Value)]
		}
		if learn.Value != "" {
			prog, ok := l.compile(p, learn, true, nm)
			if !ok {
				bad("learn does not compile")
			}
			lg.Learn = prog
			lg.LearnGuard, lg.LearnExact = l.guardOf(learn.Value, nm)
		}
		if lg.History, err = durationOr(hist, defHist); err != nil {
			bad("history: %v", err)
		} else if lg.History > MaxHistory {
			bad("history: at most %v", MaxHistory)
		}
		if lg.MinHistory, err = durationOr(minHist, defMin); err != nil {
			bad("min_history: %v", err)
		} else if lg.MinHistory > lg.History {
			bad("min_history (%v) is longer than history (%v)", lg.MinHistory, lg.History)
		}
		lg.Fingerprint = strings.Join([]string{rs.When.Value, by.Value, learn.Value, lg.History.String()}, "\x00")
		return lg
	}
	if nt := rs.NewTerm; nt != nil {
		t := &NewTerm{Learning: learning(&nt.By, &nt.Learn, nt.History, nt.MinHistory, defaultTermHist, defaultTermMin)}
		if len(nt.Fields) == 0 || len(nt.Fields) > 8 {
			bad("new_term.fields: 1 to 8 fields, whose combination is the term")
		}
		for j := range nt.Fields {
			t.Fields = append(t.Fields, compileAny(&nt.Fields[j]))
			v := strings.TrimSpace(nt.Fields[j].Value)
			t.FieldFuncs = append(t.FieldFuncs, guardFields[v])
			t.FieldsShown = append(t.FieldsShown, v)
		}
		t.Fingerprint += "\x00" + strings.Join(t.FieldsShown, "\x00")
		r.NewTerm = t
	}
	if bs := rs.Baseline; bs != nil {
		b := &Baseline{Learning: learning(&bs.By, &bs.Learn, bs.History, bs.MinHistory, defaultBaseHist, defaultBaseMin)}
		switch {
		case (bs.Rate == nil) == (bs.Hours == nil):
			bad("baseline needs exactly one of rate: (events per hour against past weeks) and hours: (the hours a key is active)")
		case bs.Rate != nil:
			rt := &Rate{Seasonality: bs.Rate.Seasonality, MinCount: bs.Rate.MinCount, Deviations: bs.Rate.Deviations}
			if rt.Seasonality == "" {
				rt.Seasonality = SeasonHourOfWeek
			}
			if !slices.Contains([]string{SeasonHourOfWeek, SeasonHourOfDay, SeasonNone}, rt.Seasonality) {
				bad("baseline.rate.seasonality: %q is not hour_of_week, hour_of_day or none", rt.Seasonality)
			}
			if rt.MinCount == 0 {
				rt.MinCount = defaultMinCount
			}
			if rt.Deviations == 0 {
				rt.Deviations = defaultDevs
			}
			if rt.MinCount < 1 || rt.MinCount > MaxThresholdCount {
				bad("baseline.rate.min_count must be from 1 to %d", MaxThresholdCount)
			}
			if !(rt.Deviations >= 0 && rt.Deviations <= 100) { // and not NaN
				bad("baseline.rate.deviations must be from 0 to 100")
			}
			b.Rate = rt
			b.Fingerprint += "\x00rate"
		default:
			h := &ActivityHours{MaxShare: bs.Hours.MaxShare, MinEvents: bs.Hours.MinEvents, Fallback: bs.Hours.Fallback}
			if h.MaxShare == 0 {
				h.MaxShare = defaultMaxShare
			}
			if h.MinEvents == 0 {
				h.MinEvents = defaultMinEvents
			}
			if h.Fallback == "" {
				h.Fallback = "tenant"
			}
			if !(h.MaxShare > 0 && h.MaxShare < 1) { // and not NaN
				bad("baseline.hours.max_share must be between 0 and 1 (0.01: less than 1%% of the key's activity)")
			}
			if h.MinEvents < 1 {
				bad("baseline.hours.min_events must be positive")
			}
			if h.Fallback != "tenant" && h.Fallback != "none" {
				bad("baseline.hours.fallback: %q is not tenant or none", h.Fallback)
			}
			b.Hours = h
			b.Fingerprint += "\x00hours"
		}
		r.Baseline = b
	}
	if ss := rs.Scheduled; ss != nil {
		r.Scheduled = l.loadScheduled(p, ss, bad)
	}
}

func (l *loader) loadScheduled(p *parsed, ss *scheduledSpec, bad func(string, ...any)) *Scheduled {
	s := &Scheduled{Query: strings.TrimSpace(ss.Query.Value), Params: map[string]any{}, MaxRowsToRead: ss.Limits.MaxRowsToRead, MaxRows: ss.Limits.MaxRows}
	var err error
	if s.Interval, err = durationOr(ss.Interval, defaultInterval); err != nil {
		bad("scheduled.interval: %v", err)
	} else if s.Interval < MinInterval {
		bad("scheduled.interval: at least %v", MinInterval)
	}
	if s.Period, err = durationOr(ss.Period, defaultPeriod); err != nil {
		bad("scheduled.period: %v", err)
	}
	if s.Timeout, err = durationOr(ss.Limits.Timeout, defaultTimeout); err != nil {
		bad("scheduled.limits.timeout: %v", err)
	} else if s.Timeout > maxTimeout {
		bad("scheduled.limits.timeout: at most %v", maxTimeout)
	}
	if s.MaxRowsToRead == 0 {
		s.MaxRowsToRead = defaultRowsRead
	}
	if s.MaxRows == 0 {
		s.MaxRows = defaultMaxRows
	}
	if s.MaxRowsToRead < 0 {
		bad("scheduled.limits.max_rows_to_read must be positive")
	}
	if s.MaxRows < 0 || s.MaxRows > maxMaxRows {
		bad("scheduled.limits.max_rows must be from 1 to %d", maxMaxRows)
	}
	if len(ss.Params) > maxParams {
		bad("scheduled.params: at most %d", maxParams)
	}
	for name, n := range ss.Params {
		if !isIdent(name) || slices.Contains(BuiltinParams, name) {
			bad("scheduled.params: %q is not a free identifier (tenant, now and now_ms are bound already)", name)
			continue
		}
		v, err := l.paramValue(&n)
		if err != nil {
			bad("scheduled.params.%s: %v", name, err)
			continue
		}
		s.Params[name] = v
	}
	switch {
	case s.Query == "":
		bad("scheduled.query is required")
	case len(s.Query) > maxQueryBytes:
		bad("scheduled.query is longer than %d bytes", maxQueryBytes)
	default:
		used := map[string]bool{}
		for _, m := range queryParam.FindAllStringSubmatch(s.Query, -1) {
			used[m[1]] = true
		}
		if !used["tenant"] {
			bad("scheduled.query must filter by tenant = @tenant: it runs once per tenant")
		}
		if _, err := TenantScoped(s.Query, ""); err != nil {
			bad("scheduled.query: %v", err)
		}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range used {
				if !yield(k) {
					return
				}
			}
		}) {
			if _, ok := s.Params[name]; !ok && !slices.Contains(BuiltinParams, name) {
				bad("scheduled.query uses @%s, which is neither a param nor one of @tenant, @now, @now_ms", name)
			}
		}
	}
	if ss.Key.Value != "" {
		s.Key, _ = l.compileRow(p, &ss.Key, false)
	}
	return s
}

// paramValue reads a param: a scalar (number, string, bool) or
// {list: NAME}, a list of the rule files bound as an array.
func (l *loader) paramValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		switch v.(type) {
		case int, float64, string, bool:
			return v, nil
		}
		return nil, fmt.Errorf("want a number, a string, a bool or {list: NAME}")
	case yaml.MappingNode:
		var m struct {
			List string `yaml:"list"`
		}
		if err := n.Decode(&m); err != nil || m.List == "" || len(n.Content) != 2 {
			return nil, fmt.Errorf("want {list: NAME}")
		}
		set, ok := l.s.lists[m.List]
		if !ok {
			return nil, fmt.Errorf("no list is named %q", m.List)
		}
		items := make([]string, 0, len(set))
		for it := range set {
			items = append(items, it)
		}
		slices.Sort(items)
		return items, nil
	}
	return nil, fmt.Errorf("want a number, a string, a bool or {list: NAME}")
}
