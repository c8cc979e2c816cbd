package rules

import (
	"encoding/json"
	"fmt"
	"time"
)

// A rule's inline tests: the events of each case, repeated and shifted, and the rows of a scheduled rule's cases.

func testCase(name string, ts testSpec) (TestCase, error) {
	tc := TestCase{Name: ts.Name, Alerts: ts.Alerts}
	if len(ts.Events) == 0 {
		return tc, &Error{File: name, Msg: fmt.Sprintf("test %q has no events", ts.Name)}
	}
	tc.Origin = fmt.Sprintf("%s:%d", name, ts.Events[0].Line)
	for _, n := range ts.Events {
		var v map[string]any
		if err := n.Decode(&v); err != nil {
			return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: event is not a mapping", ts.Name)}
		}
		te := TestEvent{Line: n.Line}
		if raw, ok := v["raw"]; ok {
			te.Raw = true
			te.Source, _ = v["source"].(string)
			v, _ = raw.(map[string]any)
		}
		copies, every, baseID, baseTime, err := repeat(v)
		if err != nil {
			return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: %v", ts.Name, err)}
		}
		for i := 0; i < copies; i++ {
			if copies > 1 {
				if err := shift(v, i, every, baseID, baseTime); err != nil {
					return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: %v", ts.Name, err)}
				}
			}
			b, err := json.Marshal(v)
			if err != nil {
				return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: %v", ts.Name, err)}
			}
			te.JSON = b
			tc.Events = append(tc.Events, te)
		}
	}
	return tc, nil
}

// rowCase reads a scheduled rule's test case: rows as its query would
// return them, for tenant (a row's own tenant column wins) at now.
func rowCase(name string, line int, ts testSpec) (TestCase, error) {
	tc := TestCase{Name: ts.Name, Origin: fmt.Sprintf("%s:%d", name, line), Tenant: ts.Tenant, Alerts: ts.Alerts}
	if ts.Events != nil {
		return tc, &Error{File: name, Line: line, Msg: fmt.Sprintf("test %q: a scheduled rule's test gives rows, not events", ts.Name)}
	}
	if ts.Now == "" {
		return tc, &Error{File: name, Line: line, Msg: fmt.Sprintf("test %q: now: is required (the time the query runs at, RFC 3339)", ts.Name)}
	}
	var err error
	if tc.Now, err = time.Parse(time.RFC3339Nano, ts.Now); err != nil {
		return tc, &Error{File: name, Line: line, Msg: fmt.Sprintf("test %q: now: %v", ts.Name, err)}
	}
	for _, r := range ts.Rows {
		row := make(map[string]any, len(r))
		for k, v := range r {
			row[k] = RowValue(v)
		}
		tc.Rows = append(tc.Rows, row)
	}
	return tc, nil
}

// RowValue gives a value of a row (from ClickHouse, or a test) the type
// rule expressions compare it as: integers of every width as int (an
// unsigned one past the int range as float64), floats as float64, times in
// UTC, arrays of strings as []string, other arrays as []any.
func RowValue(v any) any {
	switch x := v.(type) {
	case int8:
		return int(x)
	case int16:
		return int(x)
	case int32:
		return int(x)
	case int64:
		return int(x)
	case uint8:
		return int(x)
	case uint16:
		return int(x)
	case uint32:
		return int(x)
	case uint64:
		if x > 1<<62 {
			return float64(x)
		}
		return int(x)
	case uint:
		return RowValue(uint64(x))
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC()
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case []string:
		return x
	case []any:
		ss := make([]string, 0, len(x))
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				out := make([]any, len(x))
				for i, it := range x {
					out[i] = RowValue(it)
				}
				return out
			}
			ss = append(ss, s)
		}
		return ss
	}
	return v
}

// repeat reads the test-only keys of a canonical event: `repeat: N` makes
// N copies, `every: 10s` apart (1s by default), ids suffixed -1, -2, ….
func repeat(v map[string]any) (copies int, every time.Duration, baseID, baseTime string, err error) {
	n, ok := v["repeat"]
	if !ok {
		return 1, 0, "", "", nil
	}
	if copies, _ = n.(int); copies < 1 {
		return 0, 0, "", "", fmt.Errorf("repeat: want a positive count, got %v", n)
	}
	every = time.Second
	if e, ok := v["every"].(string); ok {
		if every, err = parseDuration(e); err != nil {
			return 0, 0, "", "", fmt.Errorf("every: %v", err)
		}
	}
	baseID, _ = v["id"].(string)
	baseTime, _ = v["time"].(string)
	delete(v, "repeat")
	delete(v, "every")
	return copies, every, baseID, baseTime, nil
}

// shift sets copy i's id and time.
func shift(v map[string]any, i int, every time.Duration, base, baseTime string) error {
	if base == "" {
		base = "event"
	}
	t0, err := time.Parse(time.RFC3339Nano, baseTime)
	if err != nil {
		return fmt.Errorf("repeat needs an RFC 3339 time: %v", err)
	}
	v["id"] = fmt.Sprintf("%s-%d", base, i+1)
	v["time"] = t0.Add(time.Duration(i) * every).Format(time.RFC3339Nano)
	return nil
}
