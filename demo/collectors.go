package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/graph"
	"github.com/scimwatch/scimwatch/ingest/collect/okta"
	"github.com/scimwatch/scimwatch/ingest/collect/workspace"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	"github.com/scimwatch/scimwatch/internal/vendorfake"
	"github.com/scimwatch/scimwatch/service"
)

// vendorSink is the demo with --collectors: the simulated identity
// providers' records go into fake vendors' logs (an Okta org per Okta
// tenant, a Graph tenant, a Workspace customer), which scimwatch run's
// collectors fetch from as they would from the real ones; SCIM request
// logs, which no vendor serves, go to Kafka as before.
type vendorSink struct {
	okta  map[string]*vendorfake.Okta
	graph *vendorfake.Graph
	ws    *vendorfake.Workspace
	kafka Sink
	// the tenants of the Graph tenant and the Workspace customer
	entra, gws string
}

// startVendors starts the fake vendors for the demo's tenants (tenant ->
// source) and adds their collectors to cfg.
func startVendors(dir string, sources map[string]string, cfg *service.Config, kafka Sink) (*vendorSink, error) {
	v := &vendorSink{okta: map[string]*vendorfake.Okta{}, kafka: kafka}
	cc := &cfg.Collectors
	cc.StateTopic = "demo-collector-state"
	for tenant, src := range sources {
		topic := "idp-" + tenant
		common := func(ca string) collect.Common {
			return collect.Common{Tenant: tenant, Topic: topic, PollInterval: time.Second, Start: time.Hour, TLS: tlsconf.Config{CAFile: ca}}
		}
		switch src {
		case "okta":
			o, err := vendorfake.NewOkta(dir)
			if err != nil {
				return nil, err
			}
			o.APIToken = "demo-ssws-" + tenant
			env := "SCIMWATCH_DEMO_OKTA_TOKEN_" + tenant
			os.Setenv(env, o.APIToken)
			v.okta[tenant] = o
			cc.Okta = append(cc.Okta, okta.Config{Common: common(o.CAFile), URL: o.URL(), APITokenEnv: env})
		case "entra":
			g, err := vendorfake.NewGraph(dir)
			if err != nil {
				return nil, err
			}
			g.ClientSecret = "demo-graph-secret"
			os.Setenv("SCIMWATCH_DEMO_GRAPH_SECRET", g.ClientSecret)
			v.graph, v.entra = g, tenant
			cc.Graph = append(cc.Graph, graph.Config{Common: common(g.CAFile), TenantID: g.TenantID, ClientID: g.ClientID,
				ClientSecretEnv: "SCIMWATCH_DEMO_GRAPH_SECRET", GraphURL: g.URL(), AuthorityHost: g.URL()})
		case "gworkspace":
			w, err := vendorfake.NewWorkspace(dir)
			if err != nil {
				return nil, err
			}
			v.ws, v.gws = w, tenant
			cc.Workspace = append(cc.Workspace, workspace.Config{Common: common(w.CAFile), CredentialsFile: w.KeyFile,
				Subject: w.Admin, ReportsURL: w.URL()})
		}
	}
	if err := cfg.Validate(service.UsesCollectors); err != nil { // fills the collectors' defaults
		v.Close()
		return nil, err
	}
	return v, nil
}

// Write puts a record into its vendor's log.
func (v *vendorSink) Write(ctx context.Context, tenant, src string, rec []byte) error {
	switch {
	case src == "okta" && v.okta[tenant] != nil:
		v.okta[tenant].Add(append([]byte(nil), rec...))
		return nil
	case src == "entra" && v.graph != nil && tenant == v.entra:
		if log, obj := graphObject(rec); log != "" {
			v.graph.Add(log, obj)
			return nil
		}
	case src == "gworkspace" && v.ws != nil && tenant == v.gws:
		var a struct {
			ID struct {
				ApplicationName string `json:"applicationName"`
			} `json:"id"`
		}
		if json.Unmarshal(rec, &a) == nil && a.ID.ApplicationName != "" {
			v.ws.Add(a.ID.ApplicationName, append([]byte(nil), rec...))
			return nil
		}
	}
	return v.kafka.Write(ctx, tenant, src, rec)
}

// graphObject turns an Azure Monitor (Event Hubs) record, as the
// simulator writes Entra's, into the Graph object Graph serves: its
// properties, in the log its category names.
func graphObject(rec []byte) (string, []byte) {
	var r struct {
		Category   string          `json:"category"`
		Properties json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(rec, &r) != nil || len(r.Properties) == 0 {
		return "", nil
	}
	log := map[string]string{"AuditLogs": "directoryAudits", "SignInLogs": "signIns", "ProvisioningLogs": "provisioning"}[r.Category]
	return log, append([]byte(nil), r.Properties...)
}

func (v *vendorSink) Flush(ctx context.Context) error { return v.kafka.Flush(ctx) }

// Close stops the fake vendors (the Kafka sink is the caller's).
func (v *vendorSink) Close() error {
	for _, o := range v.okta {
		o.Close()
	}
	if v.graph != nil {
		v.graph.Close()
	}
	if v.ws != nil {
		v.ws.Close()
	}
	return nil
}

func (v *vendorSink) describe() string {
	s := ""
	for t, o := range v.okta {
		s += fmt.Sprintf("   %-20s%s/api/v1/logs\n", "okta "+t, o.URL())
	}
	if v.graph != nil {
		s += fmt.Sprintf("   %-20s%s/v1.0/auditLogs\n", "graph "+v.entra, v.graph.URL())
	}
	if v.ws != nil {
		s += fmt.Sprintf("   %-20s%s/admin/reports/v1\n", "workspace "+v.gws, v.ws.URL())
	}
	return s
}
