package source

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the normalizers' output")

// TestGolden pins what the normalizers make of every sample: the same raw
// record must give the same events, byte for byte, on every run and every
// version, unless a change means it to (go test -run TestGolden -update
// ./ingest/source/, and the diff shows what changed). The events table is
// exactly once by (tenant, id), so a changed event replaces the old one on
// re-ingest; this test makes such changes deliberate.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("*/testdata/*.*json")
	if err != nil || len(files) == 0 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			var first []byte
			for run := 0; run < 3; run++ { // maps and goroutines must not reorder anything
				in, err := os.Open(f)
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				_, err = NormalizeStream(context.Background(), in, &out, Auto{}, "golden", 0, func(line int, err error) {
					fmt.Fprintf(&out, "reject %d: %v\n", line, err)
				})
				in.Close()
				if err != nil {
					t.Fatal(err)
				}
				if run == 0 {
					first = out.Bytes()
				} else if !bytes.Equal(out.Bytes(), first) {
					t.Fatalf("run %d differs from run 0", run)
				}
			}
			base := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			golden := filepath.Join("testdata", "golden", filepath.Base(filepath.Dir(filepath.Dir(f)))+"-"+base+".ndjson")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, first, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(first, want) {
				gl, wl := bytes.Split(first, []byte("\n")), bytes.Split(want, []byte("\n"))
				for i := 0; i < min(len(gl), len(wl)); i++ {
					if !bytes.Equal(gl[i], wl[i]) {
						t.Fatalf("%s line %d differs from the normalizers' output:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%s: %d lines, the normalizers give %d", golden, len(wl), len(gl))
			}
		})
	}
}
