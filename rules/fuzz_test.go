package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no rules file makes Load panic; it loads or it reports errors.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{"testdata/good/rules.yaml", "testdata/good/shared.yaml", "testdata/bad/errors.yaml", "builtin/windowed.yaml", "builtin/builtin.yaml", "builtin/history.yaml", "testdata/bad/history.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("rules:\n  - id: x\n    title: T\n    severity: low\n    when: filter(targets, .type == \"user\")[0].id == \"a\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "r.yaml"), src, 0o600); err != nil {
			t.Fatal(err)
		}
		set, err := Load(Options{}, dir)
		if err == nil && set == nil {
			t.Fatal("no set and no error")
		}
	})
}
