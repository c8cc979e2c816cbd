package dashboards

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Expand expands a ClickHouse panel query as Grafana and the ClickHouse
// datasource plugin do: the variables (tenants, formatted singlequote:
// 'a','b'; all of them when none is chosen) and the plugin's macros for
// the time range [from, to] and the panel's interval.
func Expand(query string, tenants []string, from, to time.Time, interval time.Duration) (string, error) {
	quoted := make([]string, len(tenants))
	for i, t := range tenants {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(t) + "'"
	}
	q := strings.ReplaceAll(query, "${tenant:singlequote}", strings.Join(quoted, ","))
	q = timeFilter.ReplaceAllStringFunc(q, func(m string) string {
		col := strings.TrimSpace(timeFilter.FindStringSubmatch(m)[1])
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", col, from.Unix(), col, to.Unix())
	})
	q = strings.NewReplacer(
		"$__fromTime", fmt.Sprintf("toDateTime(%d)", from.Unix()),
		"$__toTime", fmt.Sprintf("toDateTime(%d)", to.Unix()),
		"$__interval_s", strconv.Itoa(max(1, int(interval/time.Second))),
	).Replace(q)
	if i := strings.Index(q, "$"); i >= 0 {
		end := min(len(q), i+30)
		return "", fmt.Errorf("unexpanded %q", q[i:end])
	}
	return q, nil
}

var timeFilter = regexp.MustCompile(`\$__timeFilter\(([^)]*)\)`)
