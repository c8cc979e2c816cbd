package main

import (
	"flag"
	"fmt"
	"strings"
)

// fileTenants is the repeatable --file-tenant FILE=TENANT flag: the tenant
// of one file's records that name none (an Okta System Log API export
// carries no org), before --tenant.
type fileTenants map[string]string

func (f fileTenants) register(fs *flag.FlagSet) {
	fs.Func("file-tenant", "`FILE=TENANT`: the tenant of FILE's records that name none (repeatable; before --tenant)", func(s string) error {
		i := strings.LastIndexByte(s, '=')
		if i <= 0 || i == len(s)-1 {
			return fmt.Errorf("want FILE=TENANT, got %q", s)
		}
		if _, dup := f[s[:i]]; dup {
			return fmt.Errorf("%s named twice", s[:i])
		}
		f[s[:i]] = s[i+1:]
		return nil
	})
}

// of returns the tenant of file name, or def.
func (f fileTenants) of(name, def string) string {
	if t, ok := f[name]; ok {
		return t
	}
	return def
}

// unused returns the files named by --file-tenant that are not in files.
func (f fileTenants) unused(files []string) []string {
	var out []string
	for name := range f {
		found := false
		for _, g := range files {
			found = found || g == name
		}
		if !found {
			out = append(out, name)
		}
	}
	return out
}
