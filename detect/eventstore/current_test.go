package eventstore_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse/clickhousetest"
)

// TestCurrentClickHouse: on ClickHouse 26 (chDB) holding the planted
// history, every statement this package sends to 18.16 gives what it gives
// there, as the driver sends it (parameters bound): every scheduled
// built-in's query for every tenant at three moments of the planted week,
// the report's deprovisioning query for all tenants and for each, the
// warm-up's read of events, and the scheduler's bookkeeping.
func TestCurrentClickHouse(t *testing.T) {
	ctx := context.Background()
	st, _ := plantedStore(t)
	hs := eventstore.New(st)
	set, err := rules.Load(rules.Options{}, "../../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []detect.Alert
	eng := engine(t, set, &alerts)

	var mu sync.Mutex
	var sent []string
	st.Trace(func(sql string) { mu.Lock(); sent = append(sent, sql); mu.Unlock() })
	tenants, err := hs.Tenants(ctx)
	if err != nil || len(tenants) < 4 {
		t.Fatalf("tenants %v: %v", tenants, err)
	}
	found := map[string]bool{} // rules whose query gives rows on 18.16
	scheduled := 0
	for _, r := range set.Rules {
		if r.Scheduled == nil {
			continue
		}
		scheduled++
		for _, tenant := range tenants {
			for _, now := range []time.Time{end, end.Add(-37 * time.Hour), end.AddDate(0, 0, -5).Add(13 * time.Hour)} {
				if _, err := hs.Query(ctx, eng.ScheduledQuery(r, tenant, now), func(map[string]any) error { found[r.ID] = true; return nil }); err != nil {
					t.Errorf("%s for %s at %s: %v", r.ID, tenant, now, err)
				}
			}
		}
	}
	for _, tenant := range append([]string{""}, tenants...) {
		if _, err := hs.Deprovisions(ctx, tenant, end.AddDate(0, 0, -30), end); err != nil {
			t.Fatal(err)
		}
	}
	if err := hs.Events(ctx, end.Add(-6*time.Hour), end, nil, func(*event.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.LastReported(ctx, "stale-account", end.AddDate(0, 0, -30)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := hs.Checkpoint(ctx, "detect"); err != nil {
		t.Fatal(err)
	}
	st.Trace(nil)
	if len(found) < scheduled*2/3 {
		t.Errorf("%d of %d scheduled rules' queries give rows on 18.16 (%v): the comparison proves too little", len(found), scheduled, slices.Sorted(maps.Keys(found)))
	}

	twin := clickhousetest.NewTwin(t, st)
	mu.Lock()
	queries := clickhousetest.Queries(sent)
	mu.Unlock()
	if len(queries) < scheduled*len(tenants)*3 {
		t.Fatalf("%d queries traced", len(queries))
	}
	rows := 0
	for _, q := range queries {
		rows += twin.Compare(t, q)
	}
	// The settings scheduled queries run with, sent beside the statement,
	// have the same names and meaning on 26, none obsolete.
	for name, v := range eventstore.QuerySettings(detect.Query{Timeout: time.Minute, MaxRowsToRead: 1e6}) {
		got, err := twin.Current.Strings("SELECT toString(is_obsolete) FROM system.settings WHERE name = '" + name + "'")
		if err != nil || len(got) != 1 || got[0] != "0" {
			t.Errorf("setting %s (%v) on ClickHouse 26: %v %v", name, v, got, err)
		}
	}
	t.Logf("ClickHouse 26: %d queries of %d scheduled rules, the report's and the scheduler's compared, %d rows", len(queries), scheduled, rows)
}
