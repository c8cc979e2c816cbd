package service

import (
	"strings"
	"testing"
)

func TestCollectorsConfig(t *testing.T) {
	const topics = `kafka:
  brokers: [k:9092]
  group: g
  topics:
    - {name: okta-acme, source: okta, tenant: acme}
    - {name: entra, source: entra}
    - {name: gws, source: auto}
`
	for _, tc := range []struct {
		name, yaml string
		want       []string // each in the error; none: valid
	}{
		{"valid", topics + `collectors:
  okta: [{tenant: acme, topic: okta-acme, url: https://acme.okta.com, api_token_env: T}]
  workspace: [{tenant: initech, topic: gws, credentials_file: sa.json, subject: a@initech.example}]
`, nil},
		{"every problem at once", topics + `collectors:
  okta:
    - {tenant: globex, topic: okta-acme, url: acme.okta.com, api_token_env: T, api_token_file: f, limit: 5000}
    - {tenant: acme, topic: nowhere, url: https://acme.okta.com}
  okta_hooks: [{tenant: acme, topic: okta-acme, secret_env: S}]
  graph: [{tenant: contoso, topic: entra, tenant_id: x, client_id: y, client_secret_env: S, logs: [directoryAudit], lag: {signins: 1h}}]
  workspace: [{tenant: initech, topic: okta-acme, subject: nobody, applications: [drive]}]
`, []string{
			"collectors.okta[0].url: the org's URL",
			"collectors.okta[0]: api_token_env and api_token_file: one, not both",
			"collectors.okta[0].limit: 1 to 1000",
			`collectors.okta[0].tenant: "globex", but topic okta-acme is tenant "acme"'s`,
			"collectors.okta[1]: one of api_token_env, api_token_file or oauth",
			"collectors.okta[1].topic: nowhere is not one of kafka.topics",
			"collectors.okta_hooks[0].listen: required",
			"collectors.okta_hooks[0]: cert_file and key_file (Okta delivers to HTTPS only)",
			`collectors.graph[0].logs: "directoryAudit" is not one of`,
			"collectors.graph[0].lag.signins",
			"collectors.graph[0].topic: entra names no tenant, and entra's records carry none: give the topic tenant: contoso",
			"collectors.workspace[0].credentials_file: required",
			"collectors.workspace[0].subject",
			`collectors.workspace[0].applications: "drive"`,
			"collectors.workspace[0].topic: okta-acme is read as source okta, not gworkspace",
		}},
		{"a typo", topics + `collectors:
  okta: [{tenant: acme, topic: okta-acme, url: https://acme.okta.com, api_token_evn: T}]
`, []string{"unknown key `api_token_evn` in collectors.okta[0] (did you mean `api_token_env`?)"}},
		{"names key the cursors", topics + `collectors:
  okta:
    - {name: same, tenant: acme, topic: okta-acme, url: https://acme.okta.com, api_token_env: T}
    - {name: same, tenant: acme, topic: okta-acme, url: https://acme.okta.com, api_token_env: T}
`, []string{`collectors.okta[1].name: "same" is also collectors.okta[0]'s`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), UsesCollectors)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
