package entra

import (
	"strconv"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/event"
)

// BenchmarkCredentialTargetsManyKeys: a crafted record listing thousands
// of keys costs time linear in its size.
func BenchmarkCredentialTargetsManyKeys(b *testing.B) {
	var old, nw strings.Builder
	for i := 0; i < 5000; i++ {
		k := "[KeyIdentifier=" + strconv.Itoa(i) + "-key, KeyType=Password, KeyUsage=Verify, DisplayName=k]"
		old.WriteString(k)
		nw.WriteString(k)
	}
	nw.WriteString("[KeyIdentifier=new-key, KeyType=Password, KeyUsage=Verify, DisplayName=n]")
	cs := []event.Change{{Field: "KeyDescription", Old: old.String(), New: nw.String()}}
	for i := 0; i < b.N; i++ {
		if ts := credentialTargets(cs, false); len(ts) != 1 {
			b.Fatal(len(ts))
		}
	}
}
