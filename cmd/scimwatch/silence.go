package main

import (
	"context"
	"fmt"
	"os/user"
	"time"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/service"
)

// openSilences opens the silences of --config for the silence commands;
// nil means it failed, with code the exit status.
func openSilences(ctx context.Context, c *cmdIO, fs *flagSet, config string) (*service.Silences, int) {
	if config == "" {
		return nil, fs.fail("--config is required: the config file whose clickhouse: keeps the silences")
	}
	cfg, ok := loadConfig(c, fs.help.name, config, service.UsesClickHouse)
	if !ok {
		return nil, 1
	}
	sil, err := service.OpenSilences(ctx, &cfg)
	if err != nil {
		fmt.Fprintf(c.stderr, "scimwatch %s: %v\n", fs.help.name, err)
		return nil, 1
	}
	return sil, 0
}

func silenceAddCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "silence add",
		about: `Silences the alerts that match every matcher given, from --start for
--duration (or until --end), with who and why. Matchers are shell patterns
(svc-*@acme.com). The running detector picks the silence up within 10 s; an
alert it silences is stored, with the silence's id, and not notified. A silence
that no --rule, --actor or --target narrows silences every alert of its tenant:
it is refused unless --broad says so.`,
		example: `scimwatch silence add --config detect.yaml --tenant acme --actor 'svc-migration@acme.com' --duration 4h --comment "CHG-1234 group migration"`})
	config := fs.String("config", "", "config `FILE` (run's) whose clickhouse: keeps the silences (required)")
	m := alerting.Matchers{}
	for _, l := range []string{"rule", "tenant", "actor", "target", "severity"} {
		fs.Func(l, "silence alerts whose "+l+" matches this `PATTERN`", func(v string) error { m[l] = v; return nil })
	}
	start := fs.String("start", "", "`TIME` the silence starts, RFC 3339 (default now)")
	end := fs.String("end", "", "`TIME` it ends, RFC 3339 (instead of --duration)")
	dur := fs.Duration("duration", 2*time.Hour, "how long it lasts")
	author := fs.String("author", currentUser(), "who silences")
	comment := fs.String("comment", "", "why: the change or ticket (required)")
	broad := fs.Bool("broad", false, "allow a silence that matches every alert of a tenant (no --rule, --actor or --target narrows it)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	now := time.Now().UTC()
	from, to := now, time.Time{}
	var err error
	if *start != "" {
		if from, err = time.Parse(time.RFC3339, *start); err != nil {
			return fs.fail("--start: %v", err)
		}
	}
	to = from.Add(*dur)
	if *end != "" {
		if to, err = time.Parse(time.RFC3339, *end); err != nil {
			return fs.fail("--end: %v", err)
		}
	}
	s, err := alerting.NewSilence(m, from, to, *author, *comment, now, *broad)
	if err != nil {
		fmt.Fprintf(c.stderr, "scimwatch silence add: %v\n", err)
		return 2
	}
	sil, code := openSilences(ctx, c, fs, *config)
	if sil == nil {
		return code
	}
	defer sil.Close()
	if err := sil.Add(ctx, s, c.stdout); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch silence add:", err)
		return 1
	}
	return 0
}

func silenceListCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "silence list",
		about: `Lists the silences: active ones, and with --all those that ended in the last
week, with their matchers, times, author and comment.`,
		example: `scimwatch silence list --config detect.yaml`})
	config := fs.String("config", "", "config `FILE` (run's) whose clickhouse: keeps the silences (required)")
	all := fs.Bool("all", false, "also the silences that ended in the last week, and those not started yet")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	sil, code := openSilences(ctx, c, fs, *config)
	if sil == nil {
		return code
	}
	defer sil.Close()
	if err := sil.List(ctx, *all, time.Now(), c.stdout); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch silence list:", err)
		return 1
	}
	return 0
}

func silenceExpireCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "silence expire", args: "ID...",
		about:   `Ends silences now: alerts they matched are notified again from now on.`,
		example: `scimwatch silence expire --config detect.yaml 3f9c2b1a7e5d4c08`})
	config := fs.String("config", "", "config `FILE` (run's) whose clickhouse: keeps the silences (required)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return fs.fail("name the silences to expire")
	}
	sil, code := openSilences(ctx, c, fs, *config)
	if sil == nil {
		return code
	}
	defer sil.Close()
	missing, err := sil.Expire(ctx, fs.Args(), time.Now().UTC(), c.stdout)
	for _, id := range missing {
		fmt.Fprintf(c.stderr, "scimwatch silence expire: no silence %s\n", id)
	}
	if err != nil {
		fmt.Fprintln(c.stderr, "scimwatch silence expire:", err)
		return 1
	}
	if len(missing) > 0 {
		return 1
	}
	return 0
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
