// Command export runs every panel query of scimwatch's dashboards, as
// Grafana would (macros and variables expanded as the ClickHouse plugin
// does; Prometheus range queries), and writes the results as JSON, one
// file per dashboard, for dashboards/render.py to draw the README's
// pictures from. Grafana cannot run where scimwatch is built; the pictures
// are the real query results drawn with matplotlib.
//
//	go run ./dashboards/export --database scimwatch_demo --out /tmp/panels
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/scimwatch/scimwatch/dashboards"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

type panelResult struct {
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	W       int      `json:"w"`
	Series  bool     `json:"series"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Error   string   `json:"error,omitempty"`
}

func main() {
	chAddr := flag.String("clickhouse", "127.0.0.1:19000", "ClickHouse native address")
	db := flag.String("database", "scimwatch_demo", "database")
	config := flag.String("config", "", "scimwatch's config FILE: its clickhouse: section (users, TLS) instead of --clickhouse")
	prom := flag.String("prometheus", "", "Prometheus base URL (empty: skip the pipeline dashboard)")
	out := flag.String("out", "", "directory to write DASHBOARD.json files to")
	span := flag.Duration("range", 7*24*time.Hour, "time range, ending now")
	interval := flag.Duration("interval", time.Hour, "$__interval")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "export: --out is required")
		os.Exit(2)
	}
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Compression = []string{*chAddr}, "none"
	if *config != "" {
		file, err := service.Load(*config, service.UsesClickHouse)
		if err != nil {
			fmt.Fprintln(os.Stderr, "export: --config:", err)
			os.Exit(1)
		}
		cfg = file.ClickHouse
	}
	cfg.Database = *db
	if err := run(cfg, *prom, *out, *span, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
}

func run(cfg clickhouse.Config, prom, out string, span, interval time.Duration) error {
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	conn, err := store.QueryConn()
	if err != nil {
		return err
	}
	ctx := context.Background()
	var tenants []string
	rs, err := conn.Query(ctx, "SELECT DISTINCT tenant FROM tenants ORDER BY tenant")
	if err != nil {
		return err
	}
	for rs.Next() {
		var t string
		if err := rs.Scan(&t); err != nil {
			return err
		}
		tenants = append(tenants, t)
	}
	rs.Close()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	to := time.Now().UTC()
	from := to.Add(-span)
	for _, d := range dashboards.All() {
		var results []panelResult
		for _, p := range d.Panels {
			r := panelResult{Title: p.Title, Type: p.Type, W: p.W, Series: p.TimeSeries}
			switch p.Datasource {
			case dashboards.ClickHouse:
				q, err := dashboards.Expand(p.Query, tenants, from, to, interval)
				if err == nil {
					r.Columns, r.Rows, err = query(ctx, conn, q)
				}
				if err != nil {
					r.Error = err.Error()
				}
			case dashboards.Prometheus:
				if prom == "" {
					continue
				}
				r.Series = true
				r.Columns, r.Rows, err = promRange(prom, p.Query, to.Add(-15*time.Minute), to)
				if err != nil {
					r.Error = err.Error()
				}
			}
			results = append(results, r)
		}
		if len(results) == 0 {
			continue
		}
		b, err := json.MarshalIndent(map[string]any{"uid": d.UID, "title": d.Title, "panels": results}, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, strings.TrimPrefix(d.UID, "scimwatch-")+".json"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// query runs q and returns its columns and rows.
func query(ctx context.Context, conn driver.Conn, q string) ([]string, [][]any, error) {
	rs, err := conn.Query(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	cols := rs.Columns()
	types := rs.ColumnTypes()
	out := [][]any{}
	for rs.Next() {
		ptrs := make([]any, len(cols))
		for i, t := range types {
			ptrs[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]any, len(cols))
		for i := range ptrs {
			v := reflect.ValueOf(ptrs[i]).Elem().Interface()
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339)
			}
			row[i] = v
		}
		out = append(out, row)
	}
	return cols, out, rs.Err()
}

// promRange runs a range query: rows of (time, series, value).
func promRange(base, q string, from, to time.Time) ([]string, [][]any, error) {
	u := fmt.Sprintf("%s/api/v1/query_range?query=%s&start=%d&end=%d&step=15", base, url.QueryEscape(q), from.Unix(), to.Unix())
	resp, err := http.Get(u)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var res struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, nil, err
	}
	if res.Status != "success" {
		return nil, nil, fmt.Errorf("prometheus: %s", res.Error)
	}
	rows := [][]any{}
	for _, r := range res.Data.Result {
		var labels []string
		for k, v := range r.Metric {
			labels = append(labels, k+"="+v)
		}
		name := strings.Join(labels, ",")
		for _, v := range r.Values {
			ts, _ := v[0].(float64)
			f, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
			rows = append(rows, []any{time.Unix(int64(ts), 0).UTC().Format(time.RFC3339), name, f})
		}
	}
	return []string{"t", "series", "value"}, rows, nil
}
