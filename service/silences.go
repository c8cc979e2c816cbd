package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Silences are the silences in alerting's durable store, where the
// running detector reads them (every 10 s): scimwatch silence.
type Silences struct {
	store alerting.Store
	ch    *clickhouse.Store
}

// OpenSilences opens the store of cfg; it must be ClickHouse.
func OpenSilences(ctx context.Context, cfg *Config) (*Silences, error) {
	if cfg.Alerting.Store != "clickhouse" {
		return nil, fmt.Errorf("alerting.store is %s: silences need the clickhouse store, where the detector reads them", cfg.Alerting.Store)
	}
	store, ch, err := OpenAlertStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &Silences{store: store, ch: ch}, nil
}

// Close closes the store.
func (s *Silences) Close() { s.ch.Close() }

// Add stores a silence and says so on w.
func (s *Silences) Add(ctx context.Context, si alerting.Silence, w io.Writer) error {
	if err := s.store.SaveSilence(ctx, si); err != nil {
		return err
	}
	fmt.Fprintf(w, "silence %s: %s, %s to %s, by %s: %s\n", si.ID, MatchersText(si.Matchers), si.Start.Format(time.RFC3339),
		si.End.Format(time.RFC3339), si.Author, si.Comment)
	return nil
}

// List writes the active silences as a table, and with all those ended
// or not started.
func (s *Silences) List(ctx context.Context, all bool, now time.Time, w io.Writer) error {
	ss, err := s.store.LoadSilences(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tSTART\tEND\tAUTHOR\tCOMMENT")
	for _, si := range ss {
		state := "active"
		switch {
		case now.Before(si.Start):
			state = "pending"
		case !now.Before(si.End):
			state = "ended"
		}
		if state != "active" && !all {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", si.ID, state, MatchersText(si.Matchers), si.Start.UTC().Format(time.RFC3339),
			si.End.UTC().Format(time.RFC3339), si.Author, si.Comment)
	}
	return tw.Flush()
}

// Expire ends the silences ids at now, saying what it did on w; missing
// are the ids no silence has.
func (s *Silences) Expire(ctx context.Context, ids []string, now time.Time, w io.Writer) (missing []string, err error) {
	ss, err := s.store.LoadSilences(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		i := -1 // the last of them, as the store lists it
		for j := range ss {
			if ss[j].ID == id {
				i = j
			}
		}
		if i < 0 {
			missing = append(missing, id)
			continue
		}
		si := ss[i]
		if !now.Before(si.End) {
			fmt.Fprintf(w, "silence %s had ended at %s\n", id, si.End.Format(time.RFC3339))
			continue
		}
		si.End, si.Version = now, uint64(now.UnixNano())
		if err := s.store.SaveSilence(ctx, si); err != nil {
			return missing, err
		}
		fmt.Fprintf(w, "silence %s expired\n", id)
	}
	return missing, nil
}

// MatchersText is a silence's matchers as rule=…,tenant=….
func MatchersText(m alerting.Matchers) string {
	var parts []string
	for _, l := range []string{"rule", "tenant", "actor", "target", "severity", "key"} {
		if v, ok := m[l]; ok {
			parts = append(parts, l+"="+v)
		}
	}
	return strings.Join(parts, ",")
}
