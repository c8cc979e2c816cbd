package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/demo/synth"
)

// WriteHistory writes cfg's history to dir, one file per tenant and
// source as the vendors export them (scimwatch generate history), then
// prints each file's records, the import commands and what was planted.
// only, when not nil, names the tenants written: the others are generated
// and dropped, so a tenant's history is the same alone as with the others.
func WriteHistory(ctx context.Context, cfg synth.HistoryConfig, dir string, only map[string]bool, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sink := &fileSink{dir: dir, files: map[string]*bufio.Writer{}}
	plants, err := synth.History(cfg, func(tenant, source string, rec []byte) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if only != nil && !only[tenant] {
			return nil
		}
		return sink.Write(ctx, tenant, source, rec)
	})
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	total := 0
	for _, name := range slices.Sorted(maps.Keys(sink.counts)) {
		fmt.Fprintf(out, "%-40s %9d records\n", name, sink.counts[name])
		total += sink.counts[name]
	}
	fmt.Fprintf(out, "%d records from %s to %s. Import them with:\n", total, cfg.End.AddDate(0, 0, -cfg.Days).Format("2006-01-02"), cfg.End.Format("2006-01-02"))
	for _, t := range cfg.Tenants {
		if only != nil && !only[t.Name] {
			continue
		}
		fmt.Fprintf(out, "  scimwatch import --config CONFIG --tenant %s %s %s\n", t.Name,
			filepath.Join(dir, t.Name+"."+t.Source+".ndjson"), filepath.Join(dir, t.Name+".scim.ndjson"))
	}
	if len(plants) > 0 {
		fmt.Fprintln(out, "Planted:")
		for _, p := range plants {
			if only != nil && !only[p.Tenant] {
				continue
			}
			fmt.Fprintf(out, "  %-26s tenant %-8s key %-40s %s\n", p.Rule, p.Tenant, p.Key, p.At.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
