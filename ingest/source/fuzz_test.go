package source

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

func seedAll(f *testing.F) {
	for _, dir := range []string{"okta/testdata", "entra/testdata", "scim/testdata"} {
		normtest.Seed(f, dir)
	}
	f.Add([]byte("[{\"a\":1},\n{\"b\":\n"))
	f.Add([]byte("\xEF\xBB\xBF{}\nfoo\n[1,]"))
}

// FuzzReader: the reader ends on any input, never panics, and every record
// it returns is a slice of the input that starts with a JSON value's byte.
func FuzzReader(f *testing.F) {
	seedAll(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 256)
		for i := 0; i <= len(in)+1; i++ {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			var re *RecordError
			if errors.As(err, &re) {
				if re.Line < 1 {
					t.Fatalf("error on line %d", re.Line)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Data) == 0 || !bytes.Contains(in, rec.Data) || !startsValue(rec.Data[0]) {
				t.Fatalf("record %q is not a value of the input", rec.Data)
			}
		}
		t.Fatal("reader did not end")
	})
}

// FuzzAuto: detection and normalization of any record never panic, and
// events keep the contract.
func FuzzAuto(f *testing.F) {
	seedAll(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, err := Auto{}.Normalize(nil, raw, "fuzz")
		if err == nil {
			normtest.CheckEvents(t, evs)
		}
	})
}
