// Package synth generates realistic raw identity-provider audit records
// (Okta System Log events and Entra ID Azure Monitor records), shaped and
// sized like the public samples in testdata, for benchmarks, load tests and
// the demo. Output is deterministic for a seed.
package synth

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"
)

// Generator makes records. It is not safe for concurrent use.
type Generator struct {
	rng   *rand.Rand
	now   time.Time
	step  time.Duration
	seq   uint64
	users int

	// Tenants, when set, spread records over these organisations, as a
	// deployment watching several sees them: Okta events come as Event Hook
	// deliveries from https://TENANT.okta.com (the org names the tenant),
	// Entra ID records carry the tenant's tenantId (TenantID). Unset, Okta
	// records are bare System Log events that name no tenant, and Entra ID
	// records one fixed tenant.
	Tenants []string
	tenant  string // of the record being written
}

// TenantID is the Entra ID tenant id the generator gives tenant: a GUID
// derived from the name, the same on every run.
func TenantID(tenant string) string {
	h := fnv.New64a()
	h.Write([]byte(tenant))
	return fmt.Sprintf("4f1e2d3c-aaaa-bbbb-cccc-%012x", h.Sum64()&0xffffffffffff)
}

// New returns a Generator whose events start at start and advance by step
// on average, over a population of users users.
func New(seed uint64, start time.Time, step time.Duration, users int) *Generator {
	if users <= 0 {
		users = 5000
	}
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: start, step: step, users: users}
}

// Next appends one record, Okta or Entra at the given share of Okta
// (0..1), and returns the buffer and the record's source.
func (g *Generator) Next(dst []byte, oktaShare float64) ([]byte, string) {
	okta := g.rng.Float64() < oktaShare
	if len(g.Tenants) > 0 {
		g.tenant = g.Tenants[g.rng.IntN(len(g.Tenants))]
	}
	if okta {
		if g.tenant != "" {
			return g.oktaHook(dst), "okta"
		}
		return g.Okta(dst), "okta"
	}
	return g.Entra(dst), "entra"
}

// oktaHook appends an Okta Event Hook delivery of one event from the
// tenant's org.
func (g *Generator) oktaHook(dst []byte) []byte {
	dst = append(dst, `{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://`...)
	dst = append(dst, g.tenant...)
	dst = append(dst, `.okta.com/api/v1/eventHooks/who4mJxKdtFhR3BxS0g4","eventId":"`...)
	dst = g.uuid(dst)
	dst = append(dst, `","contentType":"application/json","data":{"events":[`...)
	dst = g.Okta(dst)
	return append(dst, `]}}`...)
}

// Records returns n records of a fixed day (2026-11-02 from 08:00 UTC,
// 50 ms apart on average, 5,000 users), the given share of them Okta: the
// data of the tests and benchmarks.
func Records(seed uint64, n int, oktaShare float64) [][]byte {
	g := New(seed, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), 50*time.Millisecond, 5000)
	out := make([][]byte, n)
	for i := range out {
		out[i], _ = g.Next(nil, oktaShare)
	}
	return out
}

func (g *Generator) tick() time.Time {
	g.seq++
	if g.step > 0 {
		g.now = g.now.Add(time.Duration(g.rng.Int64N(int64(2*g.step) + 1)))
	}
	return g.now
}

// pick returns an item of a weighted list.
func pick[T any](rng *rand.Rand, items []weighted[T]) T {
	total := 0
	for _, it := range items {
		total += it.w
	}
	n := rng.IntN(total)
	for _, it := range items {
		if n < it.w {
			return it.v
		}
		n -= it.w
	}
	return items[len(items)-1].v
}

type weighted[T any] struct {
	v T
	w int
}

var firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara"}

type person struct {
	id, login, name string
}

func (g *Generator) user(n int) person {
	first := firstNames[n%len(firstNames)]
	num := strconv.Itoa(n)
	return person{
		id:    "00u" + pad(num, 17),
		login: first + "." + num + "@example.com",
		name:  first + " " + num,
	}
}

func (g *Generator) anyUser() person { return g.user(g.rng.IntN(g.users)) }

// admin returns one of a few admins: most changes come from few actors.
func (g *Generator) admin() person { return g.user(g.rng.IntN(12)) }

func pad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func (g *Generator) uuid(dst []byte) []byte {
	const hex = "0123456789abcdef"
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			dst = append(dst, '-')
		}
		var v uint64
		if i < 16 {
			v = a >> (4 * i)
		} else {
			v = b >> (4 * (i - 16))
		}
		dst = append(dst, hex[v&15])
	}
	return dst
}

// hex appends n random hex digits.
func (g *Generator) hex(dst []byte, n int) []byte {
	const digits = "0123456789abcdef"
	for i := 0; i < n; i++ {
		dst = append(dst, digits[g.rng.IntN(16)])
	}
	return dst
}

func (g *Generator) ip(dst []byte) []byte {
	dst = strconv.AppendInt(dst, int64(g.rng.IntN(200)+11), 10)
	for i := 0; i < 3; i++ {
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(g.rng.IntN(254)+1), 10)
	}
	return dst
}

// str appends a JSON string; generated text needs no escaping.
func str(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func kv(dst []byte, k, v string) []byte {
	dst = str(dst, k)
	dst = append(dst, ':')
	return str(dst, v)
}
