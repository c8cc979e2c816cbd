package synth

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// HistoryTenant is one organisation of a generated history.
type HistoryTenant struct {
	// Name is the tenant: the --tenant its files are imported with.
	Name string
	// Source is its identity provider: okta (System Log events) or entra
	// (Graph directoryAudit and signIn objects).
	Source string
	// Timezone is where its people work (IANA).
	Timezone string
	Users    int
	Admins   int
	// Apps are the SCIM clients that provision its users into apps; their
	// request logs are the tenant's scim file.
	Apps int
}

// HistoryConfig configures History.
type HistoryConfig struct {
	Tenants []HistoryTenant
	// End is the end of the history (excluded); it covers the Days before.
	End  time.Time
	Days int
	Seed uint64
	// Plant adds the anomalies of Plants.
	Plant bool
}

// DefaultHistoryTenants are four tenants in four time zones, on the three
// identity providers.
func DefaultHistoryTenants(users, admins int) []HistoryTenant {
	return []HistoryTenant{
		{Name: "acme", Source: "okta", Timezone: "America/New_York", Users: users, Admins: admins, Apps: 2},
		{Name: "globex", Source: "okta", Timezone: "Europe/Berlin", Users: users, Admins: admins, Apps: 2},
		{Name: "initech", Source: "entra", Timezone: "Asia/Tokyo", Users: users, Admins: admins, Apps: 2},
		{Name: "umbrella", Source: "gworkspace", Timezone: "Europe/London", Users: users, Admins: admins, Apps: 2},
	}
}

// Plant is an anomaly planted in a history: the rule that must find it,
// the tenant and the alert's key (an actor, a client or an account id),
// and when.
type Plant struct {
	Rule, Tenant, Key string
	// Actor is the login of who did it, when a person did.
	Actor string
	At    time.Time
}

// Emit receives each record of a history: the tenant, its file's source
// (okta, entra or scim) and the record, valid until Emit returns.
type Emit func(tenant, source string, rec []byte) error

// History generates the audit history of the tenants: users who sign in on
// working days in their time zone, admins who manage users, groups and
// roles in office hours, new hires and leavers, and SCIM clients that
// provision day and night from their own networks. Records are the
// vendors' shapes: Okta System Log events, Entra ID Graph directoryAudit
// and signIn objects, and SCIM request logs, as exports are, naming no
// tenant. With cfg.Plant it also plants the anomalies of the history-aware
// built-in rules, within the last three weeks (and, for the accounts that
// went stale, months before), and returns them. The same config gives the
// same records.
func History(cfg HistoryConfig, emit Emit) ([]Plant, error) {
	_, plants, err := Simulate(cfg, emit)
	return plants, err
}

type tenantHistory struct {
	HistoryTenant
	loc  *time.Location
	emit Emit
	rng  *rand.Rand
	buf  []byte
	// people: the first Admins are admins; hires are appended. left marks
	// leavers (deactivated) and the planted accounts the days leave alone.
	people []histPerson
	// The planted leavers of plantDeprovisioning, once hired.
	plantOverdue, plantBack int
	plantHired              bool
}

type histPerson struct {
	id, login, name string
	appID           string // the SCIM id of the person's account in the apps
	from            time.Time
	left            bool
}

func (h *tenantHistory) person(n int, from time.Time) histPerson {
	first := firstNames[n%len(firstNames)]
	num := strconv.Itoa(n)
	p := histPerson{login: first + "." + num + "@" + h.Name + ".example", name: first + " " + num, from: from}
	hs := fnv.New64a()
	hs.Write([]byte(h.Name))
	x := hs.Sum64()
	switch h.Source {
	case "gworkspace":
		p.id = p.login // Workspace names people by email
	case "okta":
		p.id = "00u" + strconv.FormatUint(x%100000, 36) + pad(num, 12)
	default:
		p.id = fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012d", uint32(x), n&0xffff, (n>>16)&0xfff, 0, n)
	}
	p.appID = fmt.Sprintf("scim-%s-%d", h.Name, n)
	return p
}

// at is local time hh:mm on day d (a local midnight), with seconds of
// jitter.
func (h *tenantHistory) at(d time.Time, hour, minute int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), hour, minute, h.rng.IntN(60), h.rng.IntN(1000)*1e6, h.loc)
}

// office is a random time of office hours (09:00–17:30) on day d.
func (h *tenantHistory) office(d time.Time) time.Time {
	m := 9*60 + h.rng.IntN(8*60+30)
	return h.at(d, m/60, m%60)
}

func workday(d time.Time) bool { return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday }

var histGroups = []string{"Engineering", "Sales", "Marketing", "Support", "Finance", "Contractors"}
var histRoles = []string{"Help Desk Administrator", "Read-only Administrator", "Report Reader"}

func (h *tenantHistory) run(cfg HistoryConfig, idx int) ([]Plant, error) {
	endLocal := cfg.End.In(h.loc)
	endDay := time.Date(endLocal.Year(), endLocal.Month(), endLocal.Day(), 0, 0, 0, 0, h.loc)
	start := endDay.AddDate(0, 0, -cfg.Days)
	for n := 0; n < h.Users; n++ {
		h.people = append(h.people, h.person(n, time.Time{}))
	}
	var plants []Plant
	if cfg.Plant {
		var err error
		if plants, err = h.plantBefore(cfg, idx, endDay); err != nil {
			return nil, err
		}
	}
	// Day 0: every admin holds the tenant's top role, granted by admin 0.
	top := topRole(h.Source)
	for a := 0; a < h.Admins; a++ {
		if err := h.role(h.office(start), 0, a, top, true); err != nil {
			return nil, err
		}
	}
	for d := start; d.Before(endDay); d = d.AddDate(0, 0, 1) {
		if err := h.day(d, cfg.End); err != nil {
			return nil, err
		}
		p, err := h.tokens(d, start, endDay, cfg.Plant)
		if err != nil {
			return nil, err
		}
		plants = append(plants, p...)
		if cfg.Plant {
			p, err = h.plantOn(idx, d, endDay)
			if err != nil {
				return nil, err
			}
			plants = append(plants, p...)
			if p, err = h.plantDeprovisioning(d, endDay); err != nil {
				return nil, err
			}
			plants = append(plants, p...)
			if p, err = h.plantSCIM(d, endDay); err != nil {
				return nil, err
			}
			plants = append(plants, p...)
		}
	}
	return plants, nil
}

// day generates one local day of the tenant.
func (h *tenantHistory) day(d, end time.Time) error {
	work := workday(d)
	// About every third working day someone leaves: deactivated in office
	// hours, not signing in that day (sign-ins after would be attacks).
	leaver := -1
	if work && h.rng.IntN(3) == 0 {
		n := h.Admins + h.rng.IntN(len(h.people)-h.Admins)
		if !h.people[n].left && h.people[n].from.IsZero() {
			leaver = n
			h.people[n].left = true
		}
	}
	for i := range h.people {
		p := &h.people[i]
		if p.left || !p.from.IsZero() && !p.from.Before(d) {
			continue
		}
		admin := i < h.Admins
		switch {
		case admin && work:
			if err := h.login(h.at(d, 8, 20+h.rng.IntN(30)), i); err != nil {
				return err
			}
			if err := h.login(h.at(d, 13, h.rng.IntN(60)), i); err != nil {
				return err
			}
		case work && h.rng.Float64() < 0.85:
			m := 8*60 + h.rng.IntN(10*60)
			if err := h.login(h.at(d, m/60, m%60), i); err != nil {
				return err
			}
		case !work && h.rng.Float64() < 0.03:
			if err := h.login(h.at(d, 10+h.rng.IntN(6), h.rng.IntN(60)), i); err != nil {
				return err
			}
		}
	}
	if work {
		for a := 0; a < h.Admins; a++ {
			for k := 0; k < 4; k++ {
				if err := h.change(h.office(d), a, "update", h.someone(), ""); err != nil {
					return err
				}
			}
			for k := 0; k < 2; k++ {
				op := "add"
				if h.rng.IntN(3) == 0 {
					op = "remove"
				}
				if err := h.change(h.office(d), a, "group-"+op, h.someone(), histGroups[h.rng.IntN(len(histGroups))]); err != nil {
					return err
				}
			}
			if h.rng.Float64() < 0.4 {
				if err := h.role(h.office(d), a, h.someone(), histRoles[h.rng.IntN(len(histRoles))], h.rng.IntN(2) == 0); err != nil {
					return err
				}
			}
		}
		// A hire about every other working day, and the leaver.
		if h.rng.IntN(2) == 0 {
			if err := h.hire(d, h.rng.IntN(h.Admins)); err != nil {
				return err
			}
		}
		if leaver >= 0 {
			if err := h.leave(h.office(d), h.rng.IntN(h.Admins), leaver); err != nil {
				return err
			}
		}
	}
	// SCIM clients reconcile at night, reading the first page of the
	// directory, and sync every 40 minutes, day and night, from their
	// own networks.
	for app := 0; app < h.Apps; app++ {
		t := time.Date(d.Year(), d.Month(), d.Day(), 2, 5*app, h.rng.IntN(60), 0, h.loc)
		if t.Before(end) {
			if _, err := h.scimPages(t, app, max(1, len(h.people)/100), time.Second); err != nil {
				return err
			}
		}
	}
	for app := 0; app < h.Apps; app++ {
		refused := h.rng.IntN(36) // a sync a day has a request the app refuses
		for i, m := 0, h.rng.IntN(40); m < 24*60; i, m = i+1, m+40 {
			t := time.Date(d.Year(), d.Month(), d.Day(), m/60, m%60, h.rng.IntN(60), 0, h.loc)
			if !t.Before(end) {
				break
			}
			for k := 0; k < 1+h.rng.IntN(2); k++ {
				write := h.scim
				if k == 0 && i == refused || h.rng.IntN(200) == 0 { // now and then the app refuses one
					write = func(t time.Time, app int, _ string, n int, ip, ua string) error { return h.scimFail(t, app, n, ip, ua) }
				}
				if err := write(t.Add(time.Duration(k)*time.Second), app, "PATCH", h.someone(), h.appNet(app), h.appUA(app)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// someone is a random current user who is not an admin.
func (h *tenantHistory) someone() int {
	for {
		n := h.Admins + h.rng.IntN(len(h.people)-h.Admins)
		if !h.people[n].left {
			return n
		}
	}
}

// hire creates a user in office hours (an admin creates and activates it;
// in an Entra tenant the HR system's inbound provisioning creates it),
// provisions it into the apps; the user signs in from the next day.
func (h *tenantHistory) hire(d time.Time, admin int) error {
	n := len(h.people)
	p := h.person(n, d)
	h.people = append(h.people, p)
	t := h.office(d)
	if h.Source == "entra" {
		// Entra tenants are fed by their HR system.
		if err := h.entraHire(t, n); err != nil {
			return err
		}
	} else {
		if err := h.change(t, admin, "create", n, ""); err != nil {
			return err
		}
		if err := h.change(t.Add(time.Minute), admin, "activate", n, ""); err != nil {
			return err
		}
	}
	for app := 0; app < h.Apps; app++ {
		at := t.Add(time.Duration(10+app) * time.Minute)
		if err := h.provision(at.Add(-time.Minute), admin, app, n); err != nil {
			return err
		}
		if err := h.scim(at, app, "POST", n, h.appNet(app), h.appUA(app)); err != nil {
			return err
		}
	}
	return nil
}

// leave deactivates person n at t, and the identity provider removes the
// person from every app within each app's usual time.
func (h *tenantHistory) leave(t time.Time, admin, n int) error {
	h.people[n].left = true
	if err := h.change(t, admin, "deactivate", n, ""); err != nil {
		return err
	}
	for app := 0; app < h.Apps; app++ {
		if err := h.deprovision(t.Add(h.deprovisionLatency(app)), app, n, ""); err != nil {
			return err
		}
	}
	return nil
}

// appNet is an address of one of app's two networks.
func (h *tenantHistory) appNet(app int) string {
	return fmt.Sprintf("52.%d.%d.%d", 10+app, 100+h.rng.IntN(2), 1+h.rng.IntN(250))
}

func (h *tenantHistory) appUA(app int) string {
	if h.Source == "gworkspace" {
		return "Google-Auto-Provisioning"
	}
	if h.Source == "entra" {
		return "Microsoft.Identity.ProvisioningService"
	}
	return "Okta SCIM Client " + strconv.Itoa(1+app) + ".0"
}

func (h *tenantHistory) clientID(app int) string {
	return h.Name + "-" + h.Source + "-scim-" + strconv.Itoa(app)
}

// plantBefore plants what happened long before the history's window: an
// account used for a month and not since (stale-account), and an admin
// who stopped signing in (dormant-admin).
func (h *tenantHistory) plantBefore(cfg HistoryConfig, idx int, endDay time.Time) ([]Plant, error) {
	var plants []Plant
	switch idx % 3 {
	case 0: // stale-account: created 125 days ago, last used 95 days ago (stale from 5 days ago)
		n := len(h.people)
		p := h.person(n, endDay.AddDate(0, 0, -125))
		h.rename(&p, "stale.leaver@"+h.Name+".example")
		h.people = append(h.people, p)
		h.people[n].left = true // no more activity from the generator
		d := endDay.AddDate(0, 0, -125)
		t := h.office(d)
		if err := h.change(t, 0, "create", n, ""); err != nil {
			return nil, err
		}
		if err := h.change(t.Add(time.Minute), 0, "activate", n, ""); err != nil {
			return nil, err
		}
		for k := 2; k <= 30; k += 4 {
			if err := h.login(h.office(d.AddDate(0, 0, k)), n); err != nil {
				return nil, err
			}
		}
		plants = append(plants, Plant{Rule: "stale-account", Tenant: h.Name, Key: p.id, At: endDay})
	case 1: // dormant-admin: Super administrator since 80 days ago, last used 35 days ago (dormant from 5 days ago)
		n := len(h.people)
		p := h.person(n, endDay.AddDate(0, 0, -90))
		h.rename(&p, "dormant.admin@"+h.Name+".example")
		h.people = append(h.people, p)
		h.people[n].left = true
		d := endDay.AddDate(0, 0, -90)
		t := h.office(d)
		if err := h.change(t, 0, "create", n, ""); err != nil {
			return nil, err
		}
		if err := h.change(t.Add(time.Minute), 0, "activate", n, ""); err != nil {
			return nil, err
		}
		if err := h.role(h.office(d.AddDate(0, 0, 10)), 0, n, "Super administrator", true); err != nil {
			return nil, err
		}
		for k := 1; k <= 55; k += 2 {
			if err := h.login(h.office(d.AddDate(0, 0, k)), n); err != nil {
				return nil, err
			}
		}
		plants = append(plants, Plant{Rule: "dormant-admin", Tenant: h.Name, Key: p.id, At: endDay})
	case 2: // never-activated: created 20 days ago, never used (reported from 6 days ago)
		n := len(h.people)
		d := lastWorkday(endDay.AddDate(0, 0, -20))
		p := h.person(n, d)
		h.rename(&p, "never.started@"+h.Name+".example")
		h.people = append(h.people, p)
		h.people[n].left = true
		if err := h.change(h.office(d), 1, "create", n, ""); err != nil {
			return nil, err
		}
		plants = append(plants, Plant{Rule: "never-activated", Tenant: h.Name, Key: p.id, At: endDay})
	}
	return plants, nil
}

// lastWorkday is d, or the working day before it.
func lastWorkday(d time.Time) time.Time {
	for !workday(d) {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// plantOn plants the anomalies of the live rules on their day, in the
// last week: a SCIM client used from curl on an unknown network at night
// (new-provisioning-source), an admin's 40 role grants within one
// morning hour (role-change-rate-anomaly), an admin creating a user at
// 03:10 (off-hours-for-actor).
func (h *tenantHistory) plantOn(idx int, d, endDay time.Time) ([]Plant, error) {
	var day time.Time
	switch idx % 3 {
	case 0:
		day = endDay.AddDate(0, 0, -2)
	default:
		day = lastWorkday(endDay.AddDate(0, 0, -3))
	}
	if !d.Equal(day) {
		return nil, nil
	}
	switch idx % 3 {
	case 0:
		t := h.at(d, 2, 13)
		for k := 0; k < 3; k++ {
			if err := h.scim(t.Add(time.Duration(k)*time.Minute), 0, "PATCH", h.someone(), "198.51.100.23", "curl/8.4.0"); err != nil {
				return nil, err
			}
		}
		return []Plant{{Rule: "new-provisioning-source", Tenant: h.Name, Key: h.clientID(0), At: t}}, nil
	case 1:
		t := h.at(d, 11, 0)
		for k := 0; k < 40; k++ {
			if err := h.role(t.Add(time.Duration(k)*75*time.Second), 1, h.someone(), histRoles[0], true); err != nil {
				return nil, err
			}
		}
		return []Plant{{Rule: "role-change-rate-anomaly", Tenant: h.Name, Key: h.people[1].id, At: t}}, nil
	default:
		t := h.at(d, 3, 10)
		n := len(h.people)
		p := h.person(n, d)
		h.rename(&p, "night.hire@"+h.Name+".example")
		h.people = append(h.people, p)
		h.people[n].left = true
		if err := h.change(t, 1, "create", n, ""); err != nil {
			return nil, err
		}
		return []Plant{{Rule: "off-hours-for-actor", Tenant: h.Name, Key: h.people[1].id, At: t}}, nil
	}
}

// The records, in each source's shape.

const (
	userAgent  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	oktaLayout = "2006-01-02T15:04:05.000Z"
	msLayout   = "2006-01-02T15:04:05.0000000Z"
)

// ipOf is the address person i signs in from: an admin's office, or the
// person's home.
func (h *tenantHistory) ipOf(i int) string {
	if i < h.Admins {
		return "203.0.113." + strconv.Itoa(10+i%200)
	}
	return fmt.Sprintf("%d.%d.%d.%d", 60+i%100, (i/100)%250, (i/25000)%250, 1+i%250)
}

func (h *tenantHistory) out(source string) error {
	return h.emit(h.Name, source, h.buf)
}

func (h *tenantHistory) uuid() string {
	a, b := h.rng.Uint64(), h.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(a), uint16(a>>32), uint16(a>>48), uint16(b), b>>16)
}

func (h *tenantHistory) login(t time.Time, i int) error {
	if h.Source == "gworkspace" {
		h.buf = h.gwActivity(h.buf[:0], t, "login", "login", "login_success", i, h.ipOf(i), "login_type", "google_password")
		return h.out(h.Source)
	}
	return h.signIn(t, i, -1)
}

// signIn writes person i's sign-in at t to the identity provider (app < 0:
// Okta's session start, Entra's sign-in to Exchange Online) or to app (Okta
// single sign-on, Entra's sign-in naming the app).
func (h *tenantHistory) signIn(t time.Time, i, app int) error {
	p := &h.people[i]
	b := h.buf[:0]
	if h.Source == "okta" {
		b = append(b, `{"uuid":"`...)
		b = append(b, h.uuid()...)
		b = append(b, `","published":"`...)
		b = t.UTC().AppendFormat(b, oktaLayout)
		if app < 0 {
			b = append(b, `","eventType":"user.session.start","version":"0","severity":"INFO","displayMessage":"User login to Okta","actor":{`...)
		} else {
			b = append(b, `","eventType":"user.authentication.sso","version":"0","severity":"INFO","displayMessage":"User single sign on to app","actor":{`...)
		}
		b = oktaActor(b, p)
		b = append(b, `},"client":{"userAgent":{"rawUserAgent":"`+userAgent+`","os":"Windows","browser":"CHROME"},"zone":"null","device":"Computer","ipAddress":"`...)
		b = append(b, h.ipOf(i)...)
		b = append(b, `"},"outcome":{"result":"SUCCESS","reason":null},"target":`...)
		if app < 0 {
			b = append(b, `null`...)
		} else {
			b = append(b, '[')
			b = h.oktaAppTarget(b, app)
			b = append(b, ']')
		}
		b = append(b, `,"transaction":{"type":"WEB","id":"`...)
		b = append(b, h.uuid()[:20]...)
		b = append(b, `","detail":{}}}`...)
	} else {
		b = append(b, `{"id":"`...)
		b = append(b, h.uuid()...)
		b = append(b, `","createdDateTime":"`...)
		b = t.UTC().AppendFormat(b, msLayout)
		b = append(b, `",`...)
		b = kv(b, "userDisplayName", p.name)
		b = append(b, ',')
		b = kv(b, "userPrincipalName", p.login)
		b = append(b, ',')
		b = kv(b, "userId", p.id)
		if app < 0 {
			b = append(b, `,"appId":"00000002-0000-0ff1-ce00-000000000000","appDisplayName":"Office 365 Exchange Online"`...)
		} else {
			b = append(b, `,"appId":"`...)
			b = append(b, h.appObjectID(app)...)
			b = append(b, `",`...)
			b = kv(b, "appDisplayName", appName(app))
		}
		b = append(b, `,"ipAddress":"`...)
		b = append(b, h.ipOf(i)...)
		b = append(b, `","clientAppUsed":"Browser","userAgent":"`+userAgent+`","correlationId":"`...)
		b = append(b, h.uuid()...)
		b = append(b, `","conditionalAccessStatus":"success","isInteractive":true,"status":{"errorCode":0,"failureReason":"Other."}}`...)
	}
	h.buf = b
	return h.out(h.Source)
}

func oktaActor(b []byte, p *histPerson) []byte {
	b = kv(b, "id", p.id)
	b = append(b, `,"type":"User",`...)
	b = kv(b, "alternateId", p.login)
	b = append(b, ',')
	b = kv(b, "displayName", p.name)
	return append(b, `,"detailEntry":null`...)
}

// change is an admin's change to person n: update, create, activate,
// deactivate, group-add or group-remove (of group).
func (h *tenantHistory) change(t time.Time, admin int, op string, n int, group string) error {
	a, p := &h.people[admin], &h.people[n]
	b := h.buf[:0]
	if h.Source == "gworkspace" {
		name := map[string]string{"update": "CHANGE_LAST_NAME", "create": "CREATE_USER", "deactivate": "SUSPEND_USER", "reactivate": "UNSUSPEND_USER",
			"group-add": "ADD_GROUP_MEMBER", "group-remove": "REMOVE_GROUP_MEMBER"}[op]
		if name == "" {
			return nil // activate: Workspace accounts are active when created
		}
		typ := "USER_SETTINGS"
		params := []string{"USER_EMAIL", p.login}
		if group != "" {
			typ = "GROUP_SETTINGS"
			params = append(params, "GROUP_EMAIL", strings.ToLower(group)+"@"+h.Name+".example")
		}
		h.buf = h.gwActivity(b, t, "admin", typ, name, admin, h.ipOf(admin), params...)
		_ = a
		return h.out(h.Source)
	}
	if h.Source == "okta" {
		typ := map[string]string{"update": "user.account.update_profile", "create": "user.lifecycle.create", "activate": "user.lifecycle.activate",
			"deactivate": "user.lifecycle.deactivate", "reactivate": "user.lifecycle.reactivate", "group-add": "group.user_membership.add", "group-remove": "group.user_membership.remove"}[op]
		b = h.oktaHead(b, t, typ, admin)
		b = append(b, `,"target":[{"id":`...)
		b = str(b, p.id)
		b = append(b, `,"type":"User",`...)
		b = kv(b, "alternateId", p.login)
		b = append(b, ',')
		b = kv(b, "displayName", p.name)
		b = append(b, `,"detailEntry":null}`...)
		if group != "" {
			b = append(b, `,{"id":"00g`...)
			b = append(b, strconv.FormatUint(uint64(fnvOf(group)), 36)...)
			b = append(b, `","type":"UserGroup","alternateId":"unknown",`...)
			b = kv(b, "displayName", group)
			b = append(b, `,"detailEntry":null}`...)
		}
		b = append(b, `]}`...)
		h.buf = b
		return h.out("okta")
	}
	activity := map[string]string{"update": "Update user", "create": "Add user", "activate": "Enable account", "deactivate": "Disable account",
		"reactivate": "Restore user",
		"group-add":  "Add member to group", "group-remove": "Remove member from group"}[op]
	category := "UserManagement"
	if group != "" {
		category = "GroupManagement"
	}
	b = h.entraHead(b, t, activity, category, a, admin)
	b = append(b, `"targetResources":[{`...)
	b = kv(b, "id", p.id)
	b = append(b, ',')
	b = kv(b, "displayName", p.name)
	b = append(b, `,"type":"User",`...)
	b = kv(b, "userPrincipalName", p.login)
	b = append(b, `,"modifiedProperties":[`...)
	switch {
	case group != "":
		b = append(b, `{"displayName":"Group.DisplayName","oldValue":null,"newValue":"\"`...)
		b = append(b, group...)
		b = append(b, `\""}`...)
	case op == "update":
		b = append(b, `{"displayName":"Department","oldValue":"[\"Sales\"]","newValue":"[\"Operations\"]"}`...)
	case op == "create":
		b = append(b, `{"displayName":"AccountEnabled","oldValue":"[]","newValue":"[true]"}`...)
	}
	b = append(b, `]}]}`...)
	h.buf = b
	return h.out("entra")
}

// role grants or revokes role to person n.
func (h *tenantHistory) role(t time.Time, admin, n int, role string, grant bool) error {
	a, p := &h.people[admin], &h.people[n]
	b := h.buf[:0]
	if h.Source == "gworkspace" {
		name := "ASSIGN_ROLE"
		if !grant {
			name = "UNASSIGN_ROLE"
		}
		h.buf = h.gwActivity(b, t, "admin", "DELEGATED_ADMIN_SETTINGS", name, admin, h.ipOf(admin),
			"ROLE_ID", strconv.FormatUint(uint64(fnvOf(role)), 10), "ROLE_NAME", role, "USER_EMAIL", p.login)
		_ = a
		return h.out(h.Source)
	}
	if h.Source == "okta" {
		typ, key := "user.account.privilege.grant", "privilegeGranted"
		if !grant {
			typ, key = "user.account.privilege.revoke", "privilegeRevoked"
		}
		b = h.oktaHead(b, t, typ, admin)
		b = append(b, `,"target":[{"id":`...)
		b = str(b, p.id)
		b = append(b, `,"type":"User",`...)
		b = kv(b, "alternateId", p.login)
		b = append(b, ',')
		b = kv(b, "displayName", p.name)
		b = append(b, `,"detailEntry":null}],"debugContext":{"debugData":{`...)
		b = kv(b, key, role)
		b = append(b, `}}}`...)
		h.buf = b
		return h.out("okta")
	}
	activity := "Add member to role"
	if !grant {
		activity = "Remove member from role"
	}
	b = h.entraHead(b, t, activity, "RoleManagement", a, admin)
	b = append(b, `"targetResources":[{`...)
	b = kv(b, "id", p.id)
	b = append(b, `,"type":"User",`...)
	b = kv(b, "userPrincipalName", p.login)
	b = append(b, `,"modifiedProperties":[{"displayName":"Role.DisplayName","oldValue":null,"newValue":"\"`...)
	b = append(b, role...)
	b = append(b, `\""}]}]}`...)
	h.buf = b
	return h.out("entra")
}

// oktaHead writes an admin's System Log event up to its target.
func (h *tenantHistory) oktaHead(b []byte, t time.Time, typ string, admin int) []byte {
	b = append(b, `{"uuid":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","published":"`...)
	b = t.UTC().AppendFormat(b, oktaLayout)
	b = append(b, `","eventType":`...)
	b = str(b, typ)
	b = append(b, `,"version":"0","severity":"INFO","actor":{`...)
	b = oktaActor(b, &h.people[admin])
	b = append(b, `},"client":{"userAgent":{"rawUserAgent":"`+userAgent+`"},"zone":"null","device":"Computer","ipAddress":"`...)
	b = append(b, h.ipOf(admin)...)
	b = append(b, `"},"outcome":{"result":"SUCCESS","reason":null},"transaction":{"type":"WEB","id":"`...)
	b = append(b, h.uuid()[:20]...)
	return append(b, `","detail":{}}`...)
}

// entraHead writes a directoryAudit up to its targetResources.
func (h *tenantHistory) entraHead(b []byte, t time.Time, activity, category string, a *histPerson, admin int) []byte {
	b = append(b, `{"id":"Directory_`...)
	b = append(b, h.uuid()...)
	b = append(b, `","category":`...)
	b = str(b, category)
	b = append(b, `,"correlationId":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","result":"success","resultReason":"","activityDisplayName":`...)
	b = str(b, activity)
	b = append(b, `,"activityDateTime":"`...)
	b = t.UTC().AppendFormat(b, msLayout)
	b = append(b, `","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{"user":{`...)
	b = kv(b, "id", a.id)
	b = append(b, ',')
	b = kv(b, "displayName", a.name)
	b = append(b, ',')
	b = kv(b, "userPrincipalName", a.login)
	b = append(b, `,"ipAddress":"`...)
	b = append(b, h.ipOf(admin)...)
	return append(b, `"}},`...)
}

// scim writes a SCIM client's request: POST creates person n in the app,
// PATCH updates it.
func (h *tenantHistory) scim(t time.Time, app int, method string, n int, ip, ua string) error {
	p := &h.people[n]
	b := h.scimHead(h.buf[:0], t, app, ip, ua)
	if method == "POST" {
		b = append(b, `"method":"POST","path":"/scim/v2/Users","status":201,"request":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`...)
		b = kv(b, "userName", appLogin(p, app))
		b = append(b, `,"active":true,`...)
		b = kv(b, "displayName", p.name)
		b = append(b, `,"emails":[{"primary":true,"type":"work",`...)
		b = kv(b, "value", p.login)
		b = append(b, `}]},"response":{`...)
		b = kv(b, "id", p.appID)
		b = append(b, ',')
		b = kv(b, "userName", appLogin(p, app))
		b = append(b, `}}`...)
	} else {
		b = append(b, `"method":"PATCH","path":"/scim/v2/Users/`...)
		b = append(b, p.appID...)
		b = append(b, `","status":200,"request":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Analyst"}]}}`...)
	}
	h.buf = b
	return h.out("scim")
}

func fnvOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// gwActivity writes a Google Workspace Reports API activity of one event,
// by person actor, with its parameters as name, value pairs: in the API's
// shape, or split (events a single object), about half each.
func (h *tenantHistory) gwActivity(b []byte, t time.Time, app, typ, name string, actor int, ip string, params ...string) []byte {
	p := &h.people[actor]
	b = append(b, `{"kind":"admin#reports#activity","id":{"time":"`...)
	b = t.UTC().AppendFormat(b, oktaLayout)
	b = append(b, `","uniqueQualifier":"`...)
	uq := h.rng.Int64()
	b = strconv.AppendInt(b, uq, 10)
	b = append(b, `",`...)
	b = kv(b, "applicationName", app)
	b = append(b, ',')
	b = kv(b, "customerId", h.Name)
	b = append(b, `},"actor":{"callerType":"USER",`...)
	b = kv(b, "email", p.login)
	b = append(b, `,"profileId":"`...)
	b = strconv.AppendUint(b, 100000000000000000+uint64(fnvOf(p.login)), 10)
	b = append(b, `"},`...)
	b = kv(b, "ownerDomain", h.Name+".example")
	b = append(b, ',')
	b = kv(b, "ipAddress", ip)
	// Half the records as log shippers write them: split one event per
	// record, events a single object (Elastic Agent).
	split := uq%2 == 0
	if split {
		b = append(b, `,"events":{`...)
	} else {
		b = append(b, `,"events":[{`...)
	}
	b = kv(b, "type", typ)
	b = append(b, ',')
	b = kv(b, "name", name)
	b = append(b, `,"parameters":[`...)
	for i := 0; i+1 < len(params); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = kv(b, "name", params[i])
		b = append(b, ',')
		b = kv(b, "value", params[i+1])
		b = append(b, '}')
	}
	if split {
		return append(b, `]}}`...)
	}
	return append(b, `]}]}`...)
}

// rename gives p a login of its own (and, in Google Workspace, where people
// are named by email, the id that goes with it).
func (h *tenantHistory) rename(p *histPerson, login string) {
	p.login = login
	if h.Source == "gworkspace" {
		p.id = login
	}
}

// scimHead writes a SCIM request record up to its method.
func (h *tenantHistory) scimHead(b []byte, t time.Time, app int, ip, ua string) []byte {
	b = append(b, `{"time":"`...)
	b = t.UTC().AppendFormat(b, oktaLayout)
	b = append(b, `","request_id":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `",`...)
	b = kv(b, "client_id", h.clientID(app))
	b = append(b, ',')
	// The app the SCIM server is, by the identity provider's name for it.
	b = kv(b, "app", appName(app))
	b = append(b, ',')
	b = kv(b, "source_ip", ip)
	b = append(b, ',')
	b = kv(b, "user_agent", ua)
	return append(b, ',')
}
