package detect

import "testing"

// BenchmarkIDSet: the repeat guard's set alone, new ids a millisecond
// apart of event time, 30,000 held (what a 10-minute horizon holds at
// BenchmarkEngine's rate), expired each minute as the engine does.
func BenchmarkIDSet(b *testing.B) {
	s := newIDSet(1000000)
	h := newHasher()
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = "00000000-id-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
	}
	for i := 0; b.Loop(); i++ {
		t := uint32(i / 50)
		s.add(h.sum("acme", "okta", ids[i%len(ids)], string(rune(i))), t)
		if i%3000 == 0 && t > 600 {
			s.expire(t - 600)
		}
	}
}
