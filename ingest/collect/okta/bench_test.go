package okta

import (
	"os"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/collecttest"
)

// BenchmarkCollect: an Okta org's backlog of 100,000 System Log events
// (about 1.2 KB each, pages of 1,000) fetched from the fake Okta over
// HTTPS and produced to Kafka (acks=all), each page's cursor stored after
// its acknowledgement; one op is the whole backlog. On the real broker
// when SCIMWATCH_TEST_KAFKA is set, else on the embedded one:
//
//	go test -run X -bench Collect -benchtime 3x ./ingest/collect/okta/
func BenchmarkCollect(b *testing.B) {
	const n = 100000
	evs := events(0, n, time.Now().Add(-time.Hour))
	for b.Loop() {
		b.StopTimer()
		o := fakeB(b)
		o.Add(evs...)
		var e *collecttest.Env
		if broker := os.Getenv("SCIMWATCH_TEST_KAFKA"); broker != "" {
			e = collecttest.NewReal(b, broker)
		} else {
			e = collecttest.New(b)
		}
		b.Setenv("OKTA_TEST_TOKEN", o.APIToken)
		c := Config{Common: collect.Common{Tenant: "acme", Topic: e.Topic}, URL: o.URL(), APITokenEnv: "OKTA_TEST_TOKEN", Limit: 1000}
		c.TLS.CAFile = o.CAFile
		c.Defaults()
		col, err := New(c, e.Metrics)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		_, stop := e.Run(b, collect.Config{}, col)
		for {
			mfs, _ := e.Reg.Gather()
			done := 0.0
			for _, mf := range mfs {
				if mf.GetName() == "scimwatch_collector_records_total" {
					for _, m := range mf.GetMetric() {
						done += m.GetCounter().GetValue()
					}
				}
			}
			if done >= n {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		stop()
		o.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
