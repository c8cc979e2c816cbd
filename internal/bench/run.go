package bench

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
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

var grantedTo = regexp.MustCompile(`granted to (bench-\d+)@`)

func Run(ctx context.Context, c IO, client kafka.Client, chAddr string, count, rate, partitions int) error {
	if err := preflight(ctx, client, chAddr); err != nil {
		return err
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "scimwatch-bench-run-" + id
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
	cfg := service.DefaultConfig()
	cfg.Kafka.Client = client
	cfg.Kafka.Group = "scimwatch-bench-run-" + id
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: topic, Source: "auto", Tenant: "acme"}}
	cfg.ClickHouse.Addrs, cfg.ClickHouse.Database = []string{chAddr}, "scimwatch_bench_run_"+id
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Rules = []string{"rules/builtin"}
	cfg.History.Checkpoint = "bench-" + id
	cfg.Alerting.Store = "clickhouse"
	cfg.Alerting.GroupBy = []string{"rule", "tenant", "key"}
	cfg.Alerting.GroupWait, cfg.Alerting.GroupInterval = 0, 0
	cfg.Alerting.Slack.APIURL, cfg.Alerting.Slack.TokenEnv, cfg.Alerting.Slack.Channel = ws.URL(), "SCIMWATCH_BENCH_SLACK_TOKEN", "#soc"
	defer clickhouse.DropDatabase(cfg.ClickHouse)
	if _, err := os.Stat("rules/builtin"); err != nil {
		return fmt.Errorf("run it from the repository's root (it reads rules/builtin): %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- service.Run(rctx, "", cfg, service.RunOptions{Logger: logger, Watch: time.Hour}) }()

	w := client.Writer(topic)
	w.Balancer, w.BatchTimeout, w.RequiredAcks = &kafkago.Hash{}, time.Millisecond, kafkago.RequireAll
	defer w.Close()
	// A first record, to wait for the service to be up before measuring.
	warm := OktaGrantRecord("bench-warm", "bench-0")
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
	fmt.Fprintf(c.Stdout, "writing %d records at %d/s to %d partitions (keyed by tenant: one partition)\n", count, rate, partitions)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 1; i <= count; i++ {
		<-tick.C
		user := fmt.Sprintf("bench-%d", i)
		if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("acme"), Value: OktaGrantRecord("bench-"+id+"-"+user, user)}); err != nil {
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
	fmt.Fprintf(c.Stdout, "%d of %d alerts in Slack; write acknowledged to chat.postMessage: p50 %s, p99 %s, max %s\n",
		len(lat), count, q(0.50).Round(time.Millisecond/10), q(0.99).Round(time.Millisecond/10), lat[len(lat)-1].Round(time.Millisecond/10))
	return nil
}

// OktaGrantRecord is an Okta System Log record granting user Super
// Administrator now, with id (bench run's and the run tests' record).
func OktaGrantRecord(id, user string) []byte {
	return []byte(fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"user.account.privilege.grant","actor":{"id":"00u-admin","type":"User","alternateId":"pat@acme.example"},`+
		`"client":{"ipAddress":"203.0.113.9"},"outcome":{"result":"SUCCESS"},"target":[{"id":%q,"type":"User","alternateId":"%s@acme.example","displayName":%q},`+
		`{"id":"SUPER_ADMIN","type":"ROLE","displayName":"Super Administrator"}]}`, id, time.Now().UTC().Format(time.RFC3339Nano), "00u-"+user, user, user))
}
