package main

import (
	"context"
	"fmt"

	"github.com/scimwatch/scimwatch/demo"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func ingestCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "ingest",
		about: `Streams audit records from Kafka into ClickHouse until SIGINT or SIGTERM: a
consumer group over the configured topics, each record normalized, events
written in batches, offsets committed after each insert, records that cannot be
read sent to the dead-letter topic. With no kafka.brokers configured it runs an
embedded in-memory broker. The config file is described in README.md,
"scimwatch ingest". --generate N produces N simulated records (tenants acme,
globex and initech), ingests them, prints a summary read back from ClickHouse
and exits.`,
		example: `scimwatch ingest --config ingest/testdata/quickstart.yaml --generate 20000`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	generate := fs.Int("generate", 0, "produce this many simulated records to the first topic, ingest them, print a summary and exit")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if *config == "" {
		return fs.fail("--config is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("takes no arguments")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch ingest:", err)
		return 2
	}
	cfg, ok := loadConfig(c, "ingest", *config, service.UsesIngest|service.UsesClickHouse)
	if !ok {
		return 1
	}
	opts := service.RunOptions{Logger: logger, IngestOnly: true} // the file may be run's

	var gen *demo.Generated
	if *generate > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		gen = demo.Generate(ctx, cancel, *generate, cfg.Kafka.Topics[0].Name, logger)
		opts.OnServing, opts.OnInsert = gen.Produce, gen.Count
	}
	if err := service.Run(ctx, *config, cfg, opts); err != nil {
		logger.Error("ingest", "err", err)
		return 1
	}
	if gen != nil {
		return gen.Summary(cfg.ClickHouse, stdout, stderr)
	}
	return 0
}

func migrateCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "migrate",
		about: `Applies the embedded ClickHouse migrations not yet applied to the database
of the config file (the same file as ingest's), and lists the applied ones.
ingest applies them at start too; several instances may run them at once.`,
		example: `scimwatch migrate --config ingest/testdata/quickstart.yaml`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if *config == "" {
		return fs.fail("--config is required")
	}
	cfg, ok := loadConfig(c, "migrate", *config, service.UsesClickHouse)
	if !ok {
		return 1
	}
	store, err := clickhouse.Open(cfg.ClickHouse, nil)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch migrate:", err)
		return 1
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		fmt.Fprintln(stderr, "scimwatch migrate:", err)
		return 1
	}
	applied, err := store.AppliedMigrations(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "database %s: migrations %v applied\n", cfg.ClickHouse.Database, applied)
	return 0
}
