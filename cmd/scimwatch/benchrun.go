package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/kafka"
)

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
	brokers := fs.String("brokers", envOr("SCIMWATCH_TEST_KAFKA", "127.0.0.1:19092"), "Kafka `BROKER` host:port")
	chAddr := fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	count := fs.Int("count", 600, "records, each raising one alert")
	rate := fs.Int("rate", 20, "records/s")
	partitions := fs.Int("partitions", 4, "partitions of the benchmark topic")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *count < 1 || *rate < 1 || *partitions < 1 {
		return fs.fail("--count, --rate and --partitions must be positive")
	}
	if err := benchRun(ctx, c, *brokers, *chAddr, *count, *rate, *partitions); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch bench run:", err)
		return 1
	}
	return 0
}

var grantedTo = regexp.MustCompile(`granted to (bench-\d+)@`)

func benchRun(ctx context.Context, c *cmdIO, broker, chAddr string, count, rate, partitions int) error {
	if err := preflight(ctx, []string{broker}, chAddr); err != nil {
		return err
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "scimwatch-bench-run-" + id
	client := kafka.Client{Brokers: []string{broker}}
	if err := client.CreateTopics(ctx, partitions, topic); err != nil {
		return err
	}
	ws := fakeslack.Start()
	defer ws.Stop()
	var mu sync.Mutex
	acked := make(map[string]time.Time, count)
	posted := make(map[string]time.Time, count)
	ws.OnCall = func(call fakeslack.Call) {
		if call.Method != "chat.postMessage" {
			return
		}
		if m := grantedTo.FindStringSubmatch(call.Text); m != nil {
			mu.Lock()
			if _, dup := posted[m[1]]; !dup {
				posted[m[1]] = call.At
			}
			mu.Unlock()
		}
	}
	os.Setenv("SCIMWATCH_BENCH_SLACK_TOKEN", "xoxb-bench")
	cfg := defaultRunConfig()
	cfg.Kafka.Brokers = []string{broker}
	cfg.Kafka.Group = "scimwatch-bench-run-" + id
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: topic, Source: "auto", Tenant: "acme"}}
	cfg.ClickHouse.Addrs, cfg.ClickHouse.Database = []string{chAddr}, "scimwatch_bench_run_"+id
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Rules = []string{"rules/builtin"}
	cfg.History.Checkpoint = "bench-" + id
	cfg.Alerting.Store = "clickhouse"
	cfg.Alerting.GroupBy = []string{"rule", "tenant", "key"}
	cfg.Alerting.GroupWait, cfg.Alerting.GroupInterval = 0, 0
	cfg.Alerting.HTTP.Listen = "127.0.0.1:0"
	cfg.Alerting.Slack.APIURL, cfg.Alerting.Slack.TokenEnv, cfg.Alerting.Slack.Channel = ws.URL(), "SCIMWATCH_BENCH_SLACK_TOKEN", "#soc"
	defer dropDatabase(cfg.ClickHouse)
	if _, err := os.Stat("rules/builtin"); err != nil {
		return fmt.Errorf("run it from the repository's root (it reads rules/builtin): %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- runService(rctx, cfg, time.Hour, logger) }()

	w := client.Writer(topic)
	w.Balancer, w.BatchTimeout, w.RequiredAcks = &kafkago.Hash{}, time.Millisecond, kafkago.RequireAll
	defer w.Close()
	// A first record, to wait for the service to be up before measuring.
	warm := oktaGrantRecord("bench-warm", "bench-0")
	if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("acme"), Value: warm}); err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		mu.Lock()
		_, ok := posted["bench-0"]
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the service did not alert within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(c.stdout, "writing %d records at %d/s to %d partitions (keyed by tenant: one partition)\n", count, rate, partitions)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 1; i <= count; i++ {
		<-tick.C
		user := fmt.Sprintf("bench-%d", i)
		if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("acme"), Value: oktaGrantRecord("bench-"+id+"-"+user, user)}); err != nil {
			return err
		}
		mu.Lock()
		acked[user] = time.Now()
		mu.Unlock()
	}
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		n := len(posted) - 1
		mu.Unlock()
		if n >= count || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for u, at := range acked {
		if p, ok := posted[u]; ok {
			lat = append(lat, p.Sub(at))
		}
	}
	if len(lat) == 0 {
		return fmt.Errorf("no alert reached Slack")
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(c.stdout, "%d of %d alerts in Slack; write acknowledged to chat.postMessage: p50 %s, p99 %s, max %s\n",
		len(lat), count, q(0.50).Round(time.Millisecond/10), q(0.99).Round(time.Millisecond/10), lat[len(lat)-1].Round(time.Millisecond/10))
	return nil
}

// oktaGrantRecord is an Okta privilege grant of Super Administrator to
// user, now.
func oktaGrantRecord(id, user string) []byte {
	return []byte(fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"user.account.privilege.grant","actor":{"id":"00u-admin","type":"User","alternateId":"pat@acme.example"},`+
		`"client":{"ipAddress":"203.0.113.9"},"outcome":{"result":"SUCCESS"},"target":[{"id":%q,"type":"User","alternateId":"%s@acme.example","displayName":%q},`+
		`{"id":"SUPER_ADMIN","type":"ROLE","displayName":"Super Administrator"}]}`, id, time.Now().UTC().Format(time.RFC3339Nano), "00u-"+user, user, user))
}
