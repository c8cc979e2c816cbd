package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Simulation continues a generated history live: the same tenants, people,
// admins, SCIM clients and networks, so that what the rules learned from
// the history holds for the live traffic, and attacks injected into it
// stand out as they would in production.
type Simulation struct {
	tenants []*tenantHistory
	rng     *rand.Rand
}

// Simulate generates cfg's history through emit (the back-fill) and returns
// the simulation that continues it from cfg.End.
func Simulate(cfg HistoryConfig, emit Emit) (*Simulation, []Plant, error) {
	s := &Simulation{rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed))}
	var plants []Plant
	for i, t := range cfg.Tenants {
		loc, err := time.LoadLocation(t.Timezone)
		if err != nil {
			return nil, nil, fmt.Errorf("tenant %s: %w", t.Name, err)
		}
		if t.Source != "okta" && t.Source != "entra" && t.Source != "gworkspace" {
			return nil, nil, fmt.Errorf("tenant %s: source %q is not okta, entra or gworkspace", t.Name, t.Source)
		}
		if t.Users < t.Admins+1 || t.Admins < 2 {
			return nil, nil, fmt.Errorf("tenant %s: needs at least 2 admins and more users than admins", t.Name)
		}
		h := &tenantHistory{HistoryTenant: t, loc: loc, emit: emit,
			rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^uint64(i+1)*0x9e3779b97f4a7c15))}
		p, err := h.run(cfg, i)
		if err != nil {
			return nil, nil, err
		}
		plants = append(plants, p...)
		s.tenants = append(s.tenants, h)
	}
	return s, plants, nil
}

// Tenants lists the simulation's tenants.
func (s *Simulation) Tenants() []HistoryTenant {
	out := make([]HistoryTenant, len(s.tenants))
	for i, h := range s.tenants {
		out[i] = h.HistoryTenant
	}
	return out
}

// Tick emits n records of ordinary traffic per tenant, at now: people
// signing in (working hours or not: the live traffic runs at the pace of
// a demo), SCIM clients syncing from their own networks, admins updating
// profiles. Nothing in it is an attack.
func (s *Simulation) Tick(now time.Time, n int, emit Emit) error {
	for _, h := range s.tenants {
		h.emit = emit
		for k := 0; k < n; k++ {
			t := now.Add(-time.Duration(s.rng.IntN(900)) * time.Millisecond)
			var err error
			switch r := s.rng.IntN(10); {
			case r < 7:
				err = h.login(t, h.someone())
			case r < 9:
				app := s.rng.IntN(h.Apps)
				err = h.scim(t, app, "PATCH", h.someone(), h.appNet(app), h.appUA(app))
			default:
				err = h.change(t, s.rng.IntN(h.Admins), "update", h.someone(), "")
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Scenarios are the attacks Inject knows, one per built-in rule that
// watches the live stream (the history-aware ones need the back-fill).
var Scenarios = []string{
	"bulk-role-change", "mass-deprovision", "off-hours-user-create", "self-privilege-grant", "create-then-privilege",
	"reactivate-after-deactivate", "credential-created", "provisioning-failures", "new-provisioning-source",
	"deprovision-failed", "scim-token-new-client", "scim-scope-drift", "scim-privileged-attribute-write", "scim-error-burst",
	"scim-bulk-read",
}

// ScheduledScenarios are attacks Inject also knows whose rules are
// scheduled: their alert comes at the rule's next run (within 15 minutes),
// not at once. Inject writes them with the past they need (a provisioning
// ten days ago, a deactivation hours ago).
var ScheduledScenarios = []string{"deprovision-overdue", "access-after-deprovision", "app-write-after-deprovision", "credential-not-rotated",
	"credential-used-after-revoke", "scim-admin-activated"}

// Inject emits the records of one attack in tenant (the next tenant in
// turn when ""), ending at now, and says what it planted: the rule that
// must find it, the tenant, the alert's key (its actor or client) and when.
func (s *Simulation) Inject(scenario, tenant string, now time.Time, emit Emit) (Plant, error) {
	var h *tenantHistory
	for _, t := range s.tenants {
		if t.Name == tenant || tenant == "" && h == nil {
			h = t
		}
	}
	if tenant == "" {
		h = s.tenants[s.rng.IntN(len(s.tenants))]
		for scenario == "credential-created" && h.Source == "gworkspace" {
			h = s.tenants[s.rng.IntN(len(s.tenants))] // no API tokens in Workspace's admin log
		}
	}
	if h == nil {
		return Plant{}, fmt.Errorf("no tenant %q", tenant)
	}
	if !slices.Contains(Scenarios, scenario) && !slices.Contains(ScheduledScenarios, scenario) {
		return Plant{}, fmt.Errorf("no scenario %q (want one of %v or %v)", scenario, Scenarios, ScheduledScenarios)
	}
	// Scenarios only some sources log: the next tenant from h that does.
	var can func(*tenantHistory) bool
	switch {
	case strings.HasPrefix(scenario, "deprovision-") || strings.HasSuffix(scenario, "-after-deprovision"):
		can = (*tenantHistory).provisions
	case strings.HasPrefix(scenario, "credential-not") || strings.HasPrefix(scenario, "credential-used"):
		can = func(t *tenantHistory) bool { return t.Source == "okta" }
	}
	if can != nil {
		at := slices.Index(s.tenants, h)
		for k := 0; k < len(s.tenants) && !can(h); k++ {
			h = s.tenants[(at+k+1)%len(s.tenants)]
		}
		if !can(h) {
			return Plant{}, fmt.Errorf("%s: no tenant of a source that logs it", scenario)
		}
	}
	h.emit = emit
	admin := 1 + s.rng.IntN(h.Admins-1)
	p := Plant{Rule: scenario, Tenant: h.Name, Key: h.people[admin].id, Actor: h.people[admin].login, At: now}
	var err error
	each := func(k int, f func(i int) error) {
		for i := 0; i < k && err == nil; i++ {
			err = f(i)
		}
	}
	top := topRole(h.Source)
	switch scenario {
	case "bulk-role-change":
		// 25 grants in five minutes by one admin.
		each(25, func(i int) error {
			return h.role(now.Add(-time.Duration(24-i)*12*time.Second), admin, h.someone(), histRoles[1], true)
		})
	case "mass-deprovision":
		used := map[int]bool{}
		each(25, func(i int) error {
			n := h.someone()
			for used[n] {
				n = h.someone()
			}
			used[n] = true
			return h.change(now.Add(-time.Duration(24-i)*10*time.Second), admin, "deactivate", n, "")
		})
	case "off-hours-user-create":
		// At 03:10 last night, tenant time.
		l := now.In(h.loc)
		t := time.Date(l.Year(), l.Month(), l.Day(), 3, 10, 0, 0, h.loc)
		if t.After(now) {
			t = t.AddDate(0, 0, -1)
		}
		p.At = t
		n := h.newPerson(t, "night.hire")
		err = h.change(t, admin, "create", n, "")
	case "self-privilege-grant":
		err = h.role(now, admin, admin, top, true)
	case "create-then-privilege":
		n := h.newPerson(now, "new.admin")
		if err = h.change(now.Add(-10*time.Minute), admin, "create", n, ""); err == nil {
			err = h.role(now, admin, n, top, true)
		}
		p.Key = h.people[n].id
	case "reactivate-after-deactivate":
		n := h.someone()
		if err = h.change(now.Add(-30*time.Minute), admin, "deactivate", n, ""); err == nil {
			err = h.change(now, admin, "reactivate", n, "")
		}
		p.Key = h.people[n].id
	case "credential-created":
		err = h.credential(now, admin)
	case "provisioning-failures":
		app := 0 // scim-error-burst's is the last app's
		p.Key = h.clientID(app)
		each(12, func(i int) error {
			return h.scimFail(now.Add(-time.Duration(11-i)*30*time.Second), app, h.someone(), h.appNet(app), h.appUA(app))
		})
	case "deprovision-failed":
		// A leaver deactivated a minute ago; the first app refuses the
		// removal (its connector's token was revoked).
		n := h.provisioned()
		p.Key, p.Actor = h.people[n].login, ""
		if err = h.change(now.Add(-time.Minute), admin, "deactivate", n, ""); err == nil {
			h.people[n].left = true
			err = h.deprovision(now, 0, n, "401 Unauthorized: the bearer token was revoked")
		}
	case "deprovision-overdue", "access-after-deprovision", "app-write-after-deprovision":
		// Someone provisioned to every app ten days ago (the apps' SCIM
		// clients creating the account) and deactivated two hours ago:
		// the last app never removes them (overdue), or every app does
		// and they sign in to the first one now (access), or the last
		// app's connector writes to the account now (write).
		n := h.newPerson(now.AddDate(0, 0, -10), "leaver")
		t := now.AddDate(0, 0, -10)
		p.Actor = ""
		each(h.Apps, func(app int) error { return h.provision(t.Add(time.Duration(app)*time.Minute), admin, app, n) })
		each(h.Apps, func(app int) error {
			return h.scim(t.Add(time.Duration(app)*time.Minute+30*time.Second), app, "POST", n, h.appNet(app), h.appUA(app))
		})
		off := now.Add(-2 * time.Hour)
		if err == nil {
			err = h.change(off, admin, "deactivate", n, "")
		}
		removed := h.Apps - 1
		if scenario != "deprovision-overdue" {
			removed = h.Apps
		}
		each(removed, func(app int) error { return h.deprovision(off.Add(h.deprovisionLatency(app)), app, n, "") })
		switch scenario {
		case "deprovision-overdue":
			p.Key, p.At = h.people[n].id+" in "+appName(h.Apps-1), off
		case "app-write-after-deprovision":
			// Removed from every app, but the last app's connector,
			// which did not notice, pushes a title now.
			last := h.Apps - 1
			p.Key = h.appWriteKey(n, last)
			if err == nil {
				err = h.scim(now, last, "PATCH", n, h.appNet(last), h.appUA(last))
			}
		default:
			p.Key = h.people[n].id + " in " + appName(0)
			if err == nil {
				err = h.appSSO(now, 0, n)
			}
		}
	case "scim-token-new-client":
		p, err = h.scimNewClient(now)
	case "scim-scope-drift":
		var ps []Plant
		ps, err = h.scimRoles(now, 0)
		p = ps[0]
	case "scim-privileged-attribute-write":
		// Another app's client than scope drift's, to a group it never
		// wrote: scope drift for it too.
		p, err = h.scimAdminGroup(now, h.Apps-1)
	case "scim-error-burst":
		// Twelve within the minute before now, in now's hour (the
		// baseline counts by the hour).
		start := now.Add(-55 * time.Second)
		if hr := now.Truncate(time.Hour); start.Before(hr) {
			start = hr
		}
		p, err = h.scimBurst(start, h.Apps-1, 12, 5*time.Second)
	case "scim-bulk-read":
		// 25 pages of the directory within the minute before now, in
		// now's hour.
		start := now.Add(-50 * time.Second)
		if hr := now.Truncate(time.Hour); start.Before(hr) {
			start = hr
		}
		p, err = h.scimPages(start, 0, 25, 2*time.Second)
	case "scim-admin-activated":
		p, err = h.scimAdminPut(now, 0, admin)
	case "credential-not-rotated":
		// A token created 100 days ago, used now.
		name := "old-automation-" + strconv.Itoa(s.rng.IntN(1000))
		p.Key, p.Actor = h.tokenID(name), ""
		if err = h.token(now.AddDate(0, 0, -100), "system.api_token.create", 0, name); err == nil {
			err = h.apiCall(now, 0, name, h.someone())
		}
	case "credential-used-after-revoke":
		// A token created two days ago, revoked two hours ago, used now.
		name := "revoked-script-" + strconv.Itoa(s.rng.IntN(1000))
		p.Key, p.Actor = h.tokenID(name), ""
		if err = h.token(now.AddDate(0, 0, -2), "system.api_token.create", 0, name); err == nil {
			if err = h.token(now.Add(-2*time.Hour), "system.api_token.revoke", 0, name); err == nil {
				err = h.apiCall(now, 0, name, h.someone())
			}
		}
	case "new-provisioning-source":
		// A SCIM client's token used from a network and tool it never used
		// (not the history's planted leak either: 198.51.100.0/24 and curl).
		app := s.rng.IntN(h.Apps)
		p.Key = h.clientID(app)
		each(3, func(i int) error {
			return h.scim(now.Add(-time.Duration(2-i)*time.Minute), app, "PATCH", h.someone(), "192.0.2."+strconv.Itoa(20+s.rng.IntN(200)), "python-requests/2.32.3")
		})
	}
	return p, err
}

// newPerson adds a person (not signing in) and returns its index.
func (h *tenantHistory) newPerson(from time.Time, login string) int {
	n := len(h.people)
	p := h.person(n, from)
	p.login = login + "." + strconv.Itoa(n) + "@" + h.Name + ".example"
	if h.Source == "gworkspace" {
		p.id = p.login
	}
	h.people = append(h.people, p)
	h.people[n].left = true // the generator leaves it alone
	return n
}

// credential writes an admin's creation of an API token (Okta) or a
// service principal secret (Entra).
func (h *tenantHistory) credential(t time.Time, admin int) error {
	b := h.buf[:0]
	if h.Source == "okta" {
		b = h.oktaHead(b, t, "system.api_token.create", admin)
		b = append(b, `,"target":[{"id":"00T`...)
		b = append(b, h.uuid()[:17]...)
		b = append(b, `","type":"Token","alternateId":"unknown","displayName":"automation-token","detailEntry":null}]}`...)
		h.buf = b
		return h.out("okta")
	}
	b = h.entraHead(b, t, "Add service principal credentials", "ApplicationManagement", &h.people[admin], admin)
	b = append(b, `"targetResources":[{"id":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","displayName":"Automation Service","type":"ServicePrincipal","modifiedProperties":[{"displayName":"KeyDescription","oldValue":"[]","newValue":"[\"[KeyIdentifier=`...)
	b = append(b, h.uuid()...)
	b = append(b, `, KeyType=Password, KeyUsage=Verify, DisplayName=ci]\"]"}]}]}`...)
	h.buf = b
	return h.out("entra")
}

// scimFail writes a SCIM client's PATCH the app refused (500, or 400 for
// a value it does not accept).
func (h *tenantHistory) scimFail(t time.Time, app, n int, ip, ua string) error {
	p := &h.people[n]
	b := h.scimHead(h.buf[:0], t, app, ip, ua)
	b = append(b, `"method":"PATCH","path":"/scim/v2/Users/`...)
	b = append(b, p.appID...)
	b = append(b, `","status":500,"request":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Analyst"}]},`...)
	b = append(b, `"response":{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"upstream directory unavailable"}}`...)
	h.buf = b
	return h.out("scim")
}

// topRole is the role that controls a tenant of source.
func topRole(source string) string {
	switch source {
	case "entra":
		return "Global Administrator"
	case "gworkspace":
		return "Super Admin"
	}
	return "Super administrator"
}
