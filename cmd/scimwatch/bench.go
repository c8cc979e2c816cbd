package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/internal/bench"
	"github.com/scimwatch/scimwatch/kafka"
)

// The bench commands: flags, then one call of internal/bench.

func benchCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "bench ingest",
		about: `Measures the ingest path against a real broker and ClickHouse: produces
--count simulated records (mixed Okta and Entra ID, sized like the vendors'
own) to a topic of --partitions partitions, ingests them and prints events/s;
then produces --latency-count records at --rate while ingesting and prints the
time from produce to insert acknowledged (p50, p99, max); then the peak RSS of
the process (producer included). Uses a topic, group and database of its own,
dropped at the end. Start the services first: ./.ci/services.sh start.`,
		example: `scimwatch bench ingest --count 1000000 --partitions 8 --compression none`})
	brokers, config, chAddr := servicesFlags(fs)
	count := fs.Int("count", 1000000, "records for the throughput run, produced before ingest starts")
	latCount := fs.Int("latency-count", 300000, "records for the latency run, produced at --rate while ingest runs")
	rate := fs.Int("rate", 50000, "records/s of the latency run")
	partitions := fs.Int("partitions", 4, "partitions of the benchmark topic")
	share := fs.Float64("okta-share", 0.6, "share of Okta records (the rest Entra ID)")
	maxRows := fs.Int("max-rows", 50000, "batch.max_rows")
	maxWait := fs.Duration("max-wait", time.Second, "batch.max_wait")
	compression := fs.String("compression", "lz4", "clickhouse.compression: `lz4|none`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "scimwatch bench ingest:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "scimwatch bench ingest:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	client, ok := benchKafka(c, "bench ingest", *brokers, *config)
	if !ok {
		return 1
	}
	if err := bench.Ingest(ctx, stdout, client, *share, *chAddr, *compression, *count, *latCount, *rate, *partitions, *maxRows, *maxWait); err != nil {
		fmt.Fprintln(stderr, "scimwatch bench ingest:", err)
		return 1
	}
	return 0
}

// benchAlertingCmd measures alerting's latency: from the detector reading
// an event to the Slack API call that posts its alert, at a steady rate,
// with grouping off.
func benchAlertingCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "bench alerting",
		about: `Feeds --count events at --rate events/s, each raising an alert of a simple
rule, through the detection engine and the notifier (group_wait 0, one
notification per alert) to a Slack workspace served over HTTP on 127.0.0.1
(slack-go's slacktest), and prints the time from the engine reading each
event to the chat.postMessage call that posts it: p50, p99 and max. The
notifier stores each alert in ClickHouse before it posts (--store
clickhouse, the durable default; it needs ./.ci/services.sh start) or in
memory.`,
		example: `scimwatch bench alerting --count 2000 --rate 50`})
	count := fs.Int("count", 2000, "events, each raising one alert")
	rate := fs.Int("rate", 50, "events/s")
	storeKind := fs.String("store", "clickhouse", "`clickhouse|memory`: where the notifier stores alerts before delivering them")
	chAddr := fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *count < 1 || *rate < 1 {
		return fs.fail("--count and --rate must be positive")
	}
	if err := bench.Alerting(ctx, bench.IO{Stdout: c.stdout, Stderr: c.stderr}, *count, *rate, *storeKind, *chAddr); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch bench alerting:", err)
		return 1
	}
	return 0
}

func benchDashboardsCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "bench dashboards",
		about: `Measures the dashboards' ClickHouse queries: fills a database of its own with
--events events (three tenants of 200,000 users, 90 days: logins, SCIM
updates, group and role changes, lifecycle) by one INSERT ... SELECT through the
account views, rolls up the past days for the activity panels as scimwatch run
does (--rollup=false skips it: the panels then read events alone), then runs
every ClickHouse panel query of every dashboard, its macros expanded as the
Grafana plugin does (interval rounded as Grafana rounds it), over the last 7
days and over all 90, --runs times each, and prints the median time and rows read of each. The
database is dropped at the end (--keep keeps it). Start ClickHouse first:
./.ci/services.sh start.`,
		example: `scimwatch bench dashboards --events 100000000 --runs 3`})
	chAddr := fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	events := fs.Int("events", 10000000, "events")
	runs := fs.Int("runs", 3, "runs of each query")
	keep := fs.Bool("keep", false, "keep the database")
	rollup := fs.Bool("rollup", true, "roll up the past days first, as scimwatch run does every clickhouse.rollup_interval (false: measure the panels reading events alone)")
	db := fs.String("database", "", "use this existing `DATABASE` (filled by an earlier --keep run) instead of filling one")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if err := bench.Dashboards(ctx, bench.IO{Stdout: c.stdout, Stderr: c.stderr}, *chAddr, *events, *runs, *keep, *rollup, *db); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch bench dashboards:", err)
		return 1
	}
	return 0
}

func benchHistoryCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "bench history",
		about: `Measures what history-aware detection costs, against a real ClickHouse:
 1. import: generates --days of history for one tenant (acme, Okta and its SCIM
    clients) of --users users and --admins admins, and imports it --runs times,
    each into an empty database, with "scimwatch import" as a child process:
    events/s and the child's peak RSS;
 2. warm: the built-in new_term and baseline rules learn it all from
    ClickHouse, --runs times, each with a fresh engine: time, events/s, this
    process's peak RSS and the heap the learned state holds after it;
 3. scheduled: inserts --events events (3 tenants of 200,000 users, 90 days,
    logins, SCIM updates, group and role changes, lifecycle) with one INSERT ...
    SELECT through the account views, then runs each scheduled rule's query
    for each tenant --runs times: time and rows read per query.
Uses databases of its own, dropped at the end (--keep keeps them). Start
ClickHouse first: ./.ci/services.sh start.`,
		example: `scimwatch bench history --users 10000 --admins 100 --days 30 --events 10000000 --runs 3`})
	chAddr := fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	dir := fs.String("rules", "rules/builtin", "rules `DIR` whose new_term, baseline and scheduled rules are measured")
	users := fs.Int("users", 10000, "users of the imported tenant")
	admins := fs.Int("admins", 100, "admins of the imported tenant (the actors)")
	days := fs.Int("days", 30, "days of imported history")
	events := fs.Int("events", 10000000, "events for the scheduled queries (0: skip)")
	runs := fs.Int("runs", 3, "runs of each measurement; medians are printed")
	keep := fs.Bool("keep", false, "keep the databases")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *runs < 1 || *users <= *admins || *admins < 2 || *days < 1 || *events < 0 {
		return fs.fail("--runs at least 1, --admins at least 2 and fewer than --users, --days at least 1")
	}
	if err := bench.History(ctx, c.stdout, *chAddr, *dir, *runs, *keep, *users, *admins, *days, *events); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch bench history:", err)
		return 1
	}
	return 0
}

func benchRunCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "bench run",
		about: `Measures scimwatch run end to end: starts the service in this process on the
real broker and ClickHouse (its own topic, groups and database, dropped at the
end), with Slack served over HTTP on 127.0.0.1 (slack-go's slacktest), then
writes --count Okta privilege grants (each to a new user, so each is its own
alert and Slack message) at --rate records/s to Kafka, and prints the time from
the write being acknowledged to the chat.postMessage call: p50, p99 and max.
Alerts are stored in ClickHouse before they are posted. Start the services
first: ./.ci/services.sh start.`,
		example: `scimwatch bench run --count 600 --rate 20`})
	brokers, config, chAddr := servicesFlags(fs)
	count := fs.Int("count", 600, "records, each raising one alert")
	rate := fs.Int("rate", 20, "records/s")
	partitions := fs.Int("partitions", 4, "partitions of the benchmark topic")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *count < 1 || *rate < 1 || *partitions < 1 {
		return fs.fail("--count, --rate and --partitions must be positive")
	}
	client, ok := benchKafka(c, "bench run", *brokers, *config)
	if !ok {
		return 1
	}
	if err := bench.Run(ctx, bench.IO{Stdout: c.stdout, Stderr: c.stderr}, client, *chAddr, *count, *rate, *partitions); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch bench run:", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// benchKafka is the benchmarks' Kafka client: the brokers of --brokers,
// with the security of --config's kafka: section when one is named.
func benchKafka(c *cmdIO, cmd, brokers, config string) (kafka.Client, bool) {
	client := kafka.Client{}
	if config != "" {
		file, ok := loadConfig(c, cmd, config, 0)
		if !ok {
			return client, false
		}
		client = file.Kafka.Client
	}
	client.Brokers = strings.Split(brokers, ",")
	if err := client.Resolve(); err != nil {
		fmt.Fprintf(c.stderr, "scimwatch %s: kafka: %v\n", cmd, err)
		return client, false
	}
	return client, true
}

// servicesFlags are the flags of the benchmarks that run on Kafka and
// ClickHouse: where they are, and the config whose Kafka security to use.
func servicesFlags(fs *flagSet) (brokers, config, chAddr *string) {
	brokers = fs.String("brokers", envOr("SCIMWATCH_TEST_KAFKA", "127.0.0.1:19092"), "Kafka `BROKERS`, comma-separated host:port")
	config = fs.String("config", "", "config `FILE` whose kafka: security (security_protocol, tls, sasl) the benchmark's Kafka connections use")
	chAddr = fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	return brokers, config, chAddr
}
