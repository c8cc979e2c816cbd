package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/scimwatch/scimwatch/service"
)

// loadConfig loads scimwatch's config file (service.Config: every command
// reads the same file and validates the sections it uses). ok is false
// when it does not load, the errors printed, all of them.
func loadConfig(c *cmdIO, cmd, path string, uses service.Uses) (service.Config, bool) {
	cfg, err := service.Load(path, uses)
	if err != nil {
		fmt.Fprintf(c.stderr, "scimwatch %s: --config: %v\n", cmd, err)
		return cfg, false
	}
	return cfg, true
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
