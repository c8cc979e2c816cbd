package kafka

import (
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
)

func TestClientValidate(t *testing.T) {
	for _, tc := range []struct {
		brokers []string
		want    string
	}{
		{nil, ""},
		{[]string{"127.0.0.1:9092", "[::1]:9093", "kafka.example.com:9093"}, ""},
		{[]string{"nohostport"}, `brokers[0]: "nohostport" is not host:port`},
		{[]string{"a:1", "b", "c:"}, `brokers[1]: "b" is not host:port`},
	} {
		err := Client{Brokers: tc.brokers}.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: got %v, want %q", tc.brokers, err, tc.want)
		}
	}
}

func TestAssignments(t *testing.T) {
	got := Assignments(map[string][]kafkago.PartitionAssignment{"okta": {{ID: 2}}, "audit": {{ID: 0}, {ID: 1}}})
	if got != "audit:0,1 okta:2" {
		t.Errorf("got %q", got)
	}
}
