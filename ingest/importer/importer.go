// Package importer loads exported audit records (history) into
// ClickHouse through the normalizers ingest uses, into the same tables:
// scimwatch import. Importing a file twice changes no result: events are
// stored once by tenant and id.
package importer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Config is what an import reads and where it writes.
type Config struct {
	ClickHouse clickhouse.Config
	Limits     source.Limits
	Normalizer source.Normalizer
	// Tenant is the tenant of records that name none; FileTenants, per
	// file, before it.
	Tenant      string
	FileTenants map[string]string
	// Batch is events per insert; MaxRecord the largest record accepted.
	Batch, MaxRecord int
	// Progress draws a progress bar on the errors' writer; Summary ends
	// with what was imported, how fast, and what was rejected or cut.
	Progress, Summary bool
}

// Run imports the named files (- is stdin), reporting each rejected
// record as FILE:LINE: reason and a summary on errw. What was imported
// stays when it fails: the same import again finishes it.
func Run(ctx context.Context, cfg Config, names []string, stdin io.Reader, errw io.Writer) (source.Stats, error) {
	store, err := clickhouse.Open(cfg.ClickHouse, nil)
	if err != nil {
		fmt.Fprintln(errw, "scimwatch import:", err)
		return source.Stats{}, err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		fmt.Fprintln(errw, "scimwatch import: preparing ClickHouse:", err)
		return source.Stats{}, err
	}
	im := &importer{store: store, n: cfg.Normalizer, tenant: cfg.Tenant, perFile: cfg.FileTenants, batch: cfg.Batch, maxRecord: cfg.MaxRecord,
		limits: cfg.Limits, stdin: stdin, errw: bufio.NewWriter(errw)}
	defer im.errw.Flush()
	if cfg.Progress {
		im.bar = progressbar.NewOptions64(totalSize(names),
			progressbar.OptionSetWriter(errw), progressbar.OptionShowBytes(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish(), progressbar.OptionSetDescription("importing"))
	}
	start := time.Now()
	im.started = start
	err = im.run(ctx, names)
	if im.bar != nil {
		_ = im.bar.Finish()
	}
	elapsed := time.Since(start)
	st := im.stats()
	if cfg.Summary {
		fmt.Fprintf(im.errw, "scimwatch import: %d records, %d events imported in %.1fs (%.0f events/s), %d records rejected\n",
			st.Records, st.Events, elapsed.Seconds(), float64(st.Events)/max(elapsed.Seconds(), 1e-9), st.Rejected)
		if st.Trimmed > 0 {
			fmt.Fprintf(im.errw, "scimwatch import: %d events cut to the limits (their trimmed_* columns say what was left out)\n", st.Trimmed)
		}
		if err != nil {
			fmt.Fprintln(im.errw, "scimwatch import:", err)
			fmt.Fprintln(im.errw, "scimwatch import: what was imported stays; run the same import again to finish (importing twice changes nothing)")
		}
	}
	return st, err
}

// totalSize is the bytes of the named regular files; -1 (a spinner) when
// one is stdin or not a regular file.
func totalSize(names []string) int64 {
	var total int64
	for _, n := range names {
		st, err := os.Stat(n)
		if n == "-" || err != nil || !st.Mode().IsRegular() {
			return -1
		}
		total += st.Size()
	}
	return total
}

// importer reads and normalizes records in one goroutine and inserts full
// batches in another, so that ClickHouse's insert overlaps the parsing of
// the next batch.
type importer struct {
	store     *clickhouse.Store
	n         source.Normalizer
	tenant    string
	perFile   map[string]string
	batch     int
	maxRecord int
	limits    source.Limits
	stdin     io.Reader
	errw      *bufio.Writer
	bar       *progressbar.ProgressBar
	started   time.Time

	records, events, rejected, notJSON, trimmed atomic.Int64
	read                                        atomic.Int64 // bytes
}

// importBatch is one insert: events whose Raw lives in the batch's own
// chunks, and where each came from.
type importBatch struct {
	events []event.Event
	lines  []int64
	label  string
	chunks [][]byte
}

func (im *importer) stats() source.Stats {
	return source.Stats{Records: int(im.records.Load()), Events: int(im.events.Load()), Rejected: int(im.rejected.Load()), NotJSON: int(im.notJSON.Load()),
		Trimmed: int(im.trimmed.Load())}
}

func (im *importer) run(ctx context.Context, names []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *importBatch, 1)
	inserted := make(chan error, 1)
	go func() {
		var err error
		for b := range batches {
			if err == nil {
				if err = im.insert(ctx, b); err != nil {
					cancel()
				}
			}
		}
		inserted <- err
	}()
	var rerr error
	for _, name := range names {
		if rerr = im.readFile(ctx, name, batches); rerr != nil {
			break
		}
	}
	close(batches)
	if err := <-inserted; err != nil {
		return err
	}
	return rerr
}

// insert writes a batch, retrying a failed insert a few times (the same
// rows again are harmless).
func (im *importer) insert(ctx context.Context, b *importBatch) error {
	rows := make([]clickhouse.Row, len(b.events))
	topic := "import:" + b.label
	if len(topic) > 200 {
		topic = topic[:200]
	}
	for i := range b.events {
		rows[i] = clickhouse.Row{Event: &b.events[i], Topic: topic, Partition: -1, Offset: b.lines[i]}
	}
	var err error
	for attempt, wait := 0, time.Second; attempt < 4; attempt, wait = attempt+1, wait*2 {
		if err = im.store.Insert(ctx, rows, time.Now()); err == nil {
			im.events.Add(int64(len(rows)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("inserting events of %s lines %d to %d: %w", b.label, b.lines[0], b.lines[len(b.lines)-1], err)
}

const importChunk = 1 << 20

func (im *importer) readFile(ctx context.Context, name string, batches chan<- *importBatch) error {
	var r io.Reader = im.stdin
	label := "-"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r, label = f, name
	}
	cr := &countingReader{r: r, n: &im.read}
	rd := source.NewReader(cr, im.maxRecord)
	tenant := im.tenant
	if t, ok := im.perFile[name]; ok {
		tenant = t
	}
	newBatch := func() *importBatch {
		return &importBatch{events: make([]event.Event, 0, im.batch), lines: make([]int64, 0, im.batch), label: label}
	}
	b := newBatch()
	var chunk []byte
	send := func() error {
		if len(b.events) == 0 {
			return nil
		}
		b.chunks = append(b.chunks, chunk)
		chunk = nil
		select {
		case batches <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b = newBatch()
		im.showProgress()
		return nil
	}
	var evs []event.Event
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			im.showProgress()
		}
		rec, err := rd.Next()
		var re *source.RecordError
		switch {
		case err == io.EOF:
			return send()
		case errors.As(err, &re):
			if errors.Is(re, source.ErrNotJSON) || errors.Is(re, source.ErrBinary) {
				im.notJSON.Add(1)
			} else {
				im.records.Add(1)
				im.rejected.Add(1)
			}
			im.reject(label, re.Line, re)
			continue
		case err != nil:
			return fmt.Errorf("%s: %w", label, err)
		}
		im.records.Add(1)
		// Into a fresh slice: the events (and their targets) go into the
		// batch, and a reused one would be overwritten by the next record.
		if evs, err = im.n.Normalize(nil, rec.Data, tenant); err != nil {
			im.rejected.Add(1)
			im.reject(label, rec.Line, err)
			continue
		}
		if tr := im.limits.Apply(evs, time.Now()); tr.Events > 0 {
			im.trimmed.Add(int64(tr.Events))
		}
		for j := range evs {
			ev := evs[j]
			// Raw aliases the reader's buffer: keep a copy in the batch.
			if len(chunk)+len(ev.Raw) > cap(chunk) {
				if chunk != nil {
					b.chunks = append(b.chunks, chunk)
				}
				chunk = make([]byte, 0, max(importChunk, len(ev.Raw)))
			}
			start := len(chunk)
			chunk = append(chunk, ev.Raw...)
			ev.Raw = chunk[start:len(chunk):len(chunk)]
			b.events = append(b.events, ev)
			b.lines = append(b.lines, int64(rec.Line))
		}
		if len(b.events) >= im.batch {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// reject reports a record that could not be imported, above the progress
// bar.
func (im *importer) reject(label string, line int, err error) {
	if im.bar != nil {
		_ = im.bar.Clear()
	}
	source.ReportReject(im.errw, label, line, err)
	_ = im.errw.Flush()
}

func (im *importer) showProgress() {
	if im.bar == nil {
		return
	}
	st := im.stats()
	rate := float64(st.Events) / max(time.Since(im.started).Seconds(), 1e-3)
	im.bar.Describe(fmt.Sprintf("%d records, %d events imported (%.0f/s), %d rejected", st.Records, st.Events, rate, st.Rejected))
	_ = im.bar.Set64(im.read.Load())
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
