package source

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

// BenchmarkNormalize measures normalization alone and normalization plus
// encoding (what `scimwatch normalize` does per record), per source, on one
// core. Figures: events/s and allocations per event (allocs/op, one op is
// one record).
func BenchmarkNormalize(b *testing.B) {
	okta, entra := synth.Records(42, 4096, 1), synth.Records(42, 4096, 0)
	samples := normtest.Lines(b, "okta/testdata/okta-systemlog.ndjson")[100:108]
	cases := []struct {
		name string
		n    Normalizer
		recs [][]byte
	}{
		{"okta", bySource[event.SourceOkta], okta},
		{"okta-auto", Auto{}, okta},
		{"okta-samples", bySource[event.SourceOkta], samples},
		{"entra", bySource[event.SourceEntra], entra},
		{"entra-auto", Auto{}, entra},
		// The vendor-shaped records of issue 19: Entra inbound HR
		// provisioning (Azure Monitor's numeric steps), Workspace split
		// records and Cloud Logging exports, SCIM writes with inline roles.
		{"entra-hr-inbound", bySource[event.SourceEntra], normtest.Lines(b, "entra/testdata/hr-inbound.ndjson")},
		{"gworkspace-exports", bySource[event.SourceGWorkspace], normtest.Lines(b, "gworkspace/testdata/exports.ndjson")},
		{"scim-app-writes", bySource[event.SourceSCIM], normtest.Lines(b, "scim/testdata/app-writes.ndjson")},
	}
	for _, c := range cases {
		for _, encode := range []bool{false, true} {
			name := c.name
			if encode {
				name += "+encode"
			}
			b.Run(name, func(b *testing.B) {
				var (
					evs []event.Event
					out []byte
					sz  int
					err error
				)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					rec := c.recs[i%len(c.recs)]
					sz += len(rec)
					if evs, err = c.n.Normalize(evs[:0], rec, "t"); err != nil {
						b.Fatal(err)
					}
					if encode {
						for j := range evs {
							out, _ = evs[j].AppendJSON(out[:0])
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.SetBytes(int64(sz / b.N))
			})
		}
	}
}

// BenchmarkStream measures the whole streaming path (framing, detection,
// normalization, encoding) over an NDJSON buffer of Okta records.
func BenchmarkStream(b *testing.B) {
	var in bytes.Buffer
	for _, r := range synth.Records(42, 20000, 1) {
		in.Write(r)
		in.WriteByte('\n')
	}
	data := in.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var events int
	for b.Loop() {
		st, err := NormalizeStream(context.Background(), bytes.NewReader(data), io.Discard, Auto{}, "t", 0, func(int, error) { b.Fatal("reject") })
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDetect measures source detection of one Okta record.
func BenchmarkDetect(b *testing.B) {
	recs := synth.Records(42, 1024, 1)
	for i := 0; b.Loop(); i++ {
		if _, err := Detect(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// canonicalLines returns n simulated events in their canonical NDJSON form
// (raw included), as `scimwatch normalize` writes them and replay reads
// them.
func canonicalLines(b *testing.B, n int) []byte {
	var out []byte
	var evs []event.Event
	var err error
	for _, r := range synth.Records(42, n, 0.6) {
		if evs, err = (Auto{}).Normalize(evs[:0], r, "acme"); err != nil {
			b.Fatal(err)
		}
		for i := range evs {
			if out, err = evs[i].AppendJSON(out); err != nil {
				b.Fatal(err)
			}
		}
	}
	return out
}

// BenchmarkCanonicalDecode measures reading canonical events back (framing,
// detection, decoding): the floor of `scimwatch replay` over normalized
// files. One op is one event.
func BenchmarkCanonicalDecode(b *testing.B) {
	data := canonicalLines(b, 20000)
	n := bytes.Count(data, []byte{'\n'})
	for _, bc := range []struct {
		name string
		n    Auto
	}{{"raw", Auto{}}, {"skip-raw", Auto{SkipRaw: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data) / n))
			b.ReportAllocs()
			rd := NewReader(bytes.NewReader(data), 0)
			var evs []event.Event
			for b.Loop() {
				rec, err := rd.Next()
				if err == io.EOF {
					rd = NewReader(bytes.NewReader(data), 0)
					rec, err = rd.Next()
				}
				if err != nil {
					b.Fatal(err)
				}
				if evs, err = bc.n.Normalize(evs[:0], rec.Data, "t"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
