package synth

import (
	"strconv"
	"strings"
	"time"
)

// The identity provider's side of provisioning people into apps: Okta's
// app assignments and provisioning events, Entra's provisioning logs.
// (Google Workspace tenants provision nothing through the logs here.) The
// SCIM clients' requests are the apps' side of the same work.

// histApps name the apps the SCIM clients provision into, in turn.
var histApps = []string{"Salesforce", "Slack", "Zoom", "Atlassian Cloud"}

// appName is the app SCIM client app provisions into.
func appName(app int) string { return histApps[app%len(histApps)] }

// AppName is the name under which the identity provider's records name
// the app SCIM client app provisions into (the access map's app).
func AppName(app int) string { return appName(app) }

// deprovisionLatency is how long app takes to remove a leaver: the first
// app within minutes, the others slowly but within the default hour's SLA.
func (h *tenantHistory) deprovisionLatency(app int) time.Duration {
	if app == 0 {
		return time.Duration(1+h.rng.IntN(9)) * time.Minute
	}
	return time.Duration(35+h.rng.IntN(20)) * time.Minute
}

// provisions says whether the tenant's identity provider logs provisioning.
func (h *tenantHistory) provisions() bool { return h.Source == "okta" || h.Source == "entra" }

// provision writes the identity provider's records of giving person n
// access to app (an admin's assignment and the push, in Okta; the
// provisioning service's create, in Entra), at t.
func (h *tenantHistory) provision(t time.Time, admin, app, n int) error {
	if !h.provisions() {
		return nil
	}
	if h.Source == "okta" {
		if err := h.oktaApp(t, "application.user_membership.add", admin, app, n, ""); err != nil {
			return err
		}
		return h.oktaApp(t.Add(20*time.Second), "application.provision.user.push", -1, app, n, "")
	}
	return h.entraProvisioning(t, "create", app, n, "")
}

// deprovision writes the identity provider's record of removing person
// n's access to app at t, failed with errMsg when not "".
func (h *tenantHistory) deprovision(t time.Time, app, n int, errMsg string) error {
	if !h.provisions() {
		return nil
	}
	if h.Source == "okta" {
		return h.oktaApp(t, "application.provision.user.deactivate", -1, app, n, errMsg)
	}
	return h.entraProvisioning(t, "disable", app, n, errMsg)
}

// appSSO writes person n's sign-in to app through the identity provider.
func (h *tenantHistory) appSSO(t time.Time, app, n int) error { return h.signIn(t, n, app) }

// appObjectID is app's id in the identity provider: an Okta app instance,
// an Entra service principal.
func (h *tenantHistory) appObjectID(app int) string {
	if h.Source == "okta" {
		return "0oa" + strconv.FormatUint(uint64(fnvOf(h.Name+appName(app))), 36) + "app"
	}
	return "sp-" + strconv.FormatUint(uint64(fnvOf(h.Name+appName(app))), 16)
}

func (h *tenantHistory) oktaAppTarget(b []byte, app int) []byte {
	b = append(b, `{"id":`...)
	b = str(b, h.appObjectID(app))
	b = append(b, `,"type":"AppInstance",`...)
	b = kv(b, "alternateId", appName(app))
	b = append(b, ',')
	b = kv(b, "displayName", appName(app))
	return append(b, `,"detailEntry":null}`...)
}

// oktaApp writes an Okta application event about person n and app, by
// admin (or, admin < 0, by Okta's provisioning on the app's behalf).
func (h *tenantHistory) oktaApp(t time.Time, typ string, admin, app, n int, errMsg string) error {
	p := &h.people[n]
	b := h.buf[:0]
	if admin >= 0 {
		b = h.oktaHead(b, t, typ, admin)
	} else {
		b = append(b, `{"uuid":"`...)
		b = append(b, h.uuid()...)
		b = append(b, `","published":"`...)
		b = t.UTC().AppendFormat(b, oktaLayout)
		b = append(b, `","eventType":`...)
		b = str(b, typ)
		b = append(b, `,"version":"0","severity":"INFO","displayMessage":"Push user to app","actor":{"id":`...)
		b = str(b, h.appObjectID(app))
		b = append(b, `,"type":"PublicClientApp",`...)
		b = kv(b, "alternateId", appName(app))
		b = append(b, ',')
		b = kv(b, "displayName", appName(app))
		b = append(b, `,"detailEntry":null},"client":{"zone":"null","ipAddress":null},"outcome":{"result":`...)
		if errMsg != "" {
			b = append(b, `"FAILURE","reason":`...)
			b = str(b, errMsg)
		} else {
			b = append(b, `"SUCCESS","reason":null`...)
		}
		b = append(b, `},"transaction":{"type":"JOB","id":"`...)
		b = append(b, h.uuid()[:20]...)
		b = append(b, `","detail":{}}`...)
	}
	// Okta lists the person's account in the app (AppUser, by the app-side
	// login) first, then the app, then the person.
	b = append(b, `,"target":[{"id":"0ua`...)
	b = append(b, p.appID...)
	b = append(b, `","type":"AppUser",`...)
	b = kv(b, "alternateId", appLogin(p, app))
	b = append(b, ',')
	b = kv(b, "displayName", p.name)
	b = append(b, `,"detailEntry":null},`...)
	b = h.oktaAppTarget(b, app)
	b = append(b, `,{"id":`...)
	b = str(b, p.id)
	b = append(b, `,"type":"User",`...)
	b = kv(b, "alternateId", p.login)
	b = append(b, ',')
	b = kv(b, "displayName", p.name)
	b = append(b, `,"detailEntry":null}]}`...)
	h.buf = b
	return h.out("okta")
}

// entraProvisioning writes an Entra provisioning log entry (Graph
// provisioningObjectSummary) of action (create, disable) for person n in app.
func (h *tenantHistory) entraProvisioning(t time.Time, action string, app, n int, errMsg string) error {
	p := &h.people[n]
	b := append(h.buf[:0], `{"id":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","activityDateTime":"`...)
	b = t.UTC().AppendFormat(b, msLayout)
	b = append(b, `","jobId":"scim.`...)
	b = append(b, h.appObjectID(app)[3:]...)
	b = append(b, '.')
	b = append(b, appName(app)...)
	b = append(b, `","cycleId":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","changeId":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","provisioningAction":`...)
	b = str(b, action)
	b = append(b, `,"provisioningStatusInfo":{"status":`...)
	if errMsg != "" {
		b = append(b, `"failure","errorInformation":{"errorCode":"SystemForCrossDomainIdentityManagementServiceIncompatible","reason":`...)
		b = str(b, errMsg)
		b = append(b, `}}`...)
	} else {
		b = append(b, `"success"}`...)
	}
	b = append(b, `,"initiatedBy":{"id":"","displayName":"Azure AD Provisioning Service","initiatorType":"system"},"servicePrincipal":{"id":`...)
	b = str(b, h.appObjectID(app))
	b = append(b, ',')
	b = kv(b, "displayName", appName(app))
	b = append(b, `},"sourceSystem":{"id":"src-aad","displayName":"Azure Active Directory"},"targetSystem":{"id":"tgt-`...)
	b = append(b, h.appObjectID(app)[3:]...)
	b = append(b, `",`...)
	b = kv(b, "displayName", appName(app))
	b = append(b, `},"sourceIdentity":{`...)
	b = kv(b, "id", p.id)
	b = append(b, ',')
	b = kv(b, "displayName", p.login)
	b = append(b, `,"identityType":"User"},"targetIdentity":{`...)
	b = kv(b, "id", p.appID)
	b = append(b, ',')
	b = kv(b, "displayName", p.login)
	b = append(b, `,"identityType":"User"}}`...)
	h.buf = b
	return h.out("entra")
}

// plantDeprovisioning plants, in a tenant whose identity provider logs
// provisioning, two hires of six days ago provisioned to every app: one
// deactivated at 21:00 yesterday whose last app never removes it
// (deprovision-overdue), one deactivated two days ago, removed from every
// app in time, who signs in to the first app yesterday
// (access-after-deprovision). Each record on its own day, in time order.
func (h *tenantHistory) plantDeprovisioning(d, endDay time.Time) ([]Plant, error) {
	if !h.provisions() {
		return nil, nil
	}
	var err error
	switch {
	case d.Equal(endDay.AddDate(0, 0, -6)):
		if h.plantOverdue, err = h.plantedHire(d, "leaver.overdue"); err != nil {
			return nil, err
		}
		h.plantBack, err = h.plantedHire(d, "leaver.returning")
		h.plantHired = err == nil
		return nil, err
	case !h.plantHired:
	case d.Equal(endDay.AddDate(0, 0, -2)):
		off := h.office(d)
		if err := h.change(off, 0, "deactivate", h.plantBack, ""); err != nil {
			return nil, err
		}
		for app := 0; app < h.Apps; app++ {
			if err := h.deprovision(off.Add(h.deprovisionLatency(app)), app, h.plantBack, ""); err != nil {
				return nil, err
			}
		}
	case d.Equal(endDay.AddDate(0, 0, -1)):
		used := h.at(d, 10, 30)
		if err := h.appSSO(used, 0, h.plantBack); err != nil {
			return nil, err
		}
		off := endDay.Add(-3 * time.Hour)
		if err := h.change(off, 0, "deactivate", h.plantOverdue, ""); err != nil {
			return nil, err
		}
		for app := 0; app < h.Apps-1; app++ {
			if err := h.deprovision(off.Add(h.deprovisionLatency(app)), app, h.plantOverdue, ""); err != nil {
				return nil, err
			}
		}
		// The last app's connector, which did not notice, pushes a title.
		last, wrote := h.Apps-1, off.Add(2*time.Hour)
		if err := h.scim(wrote, last, "PATCH", h.plantOverdue, h.appNet(last), h.appUA(last)); err != nil {
			return nil, err
		}
		return []Plant{
			{Rule: "deprovision-overdue", Tenant: h.Name, Key: h.people[h.plantOverdue].id + " in " + appName(h.Apps-1), At: off},
			{Rule: "access-after-deprovision", Tenant: h.Name, Key: h.people[h.plantBack].id + " in " + appName(0), At: used},
			{Rule: "app-write-after-deprovision", Tenant: h.Name, Key: h.appWriteKey(h.plantOverdue, last), At: wrote},
		}, nil
	}
	return nil, nil
}

// appLogin is the login person p has in app: the email, or in every
// other app (Slack, Atlassian) its local part, as some apps name accounts.
func appLogin(p *histPerson, app int) string {
	if app%2 == 1 {
		if local, _, ok := strings.Cut(p.login, "@"); ok {
			return local
		}
	}
	return p.login
}

// appWriteKey is app-write-after-deprovision's key for person n's account
// in app.
func (h *tenantHistory) appWriteKey(n, app int) string {
	return strings.ToLower(h.people[n].login) + " in " + appName(app) + " by " + h.clientID(app)
}

// plantedHire creates, activates and provisions to every app a person the
// generator then leaves alone.
func (h *tenantHistory) plantedHire(d time.Time, login string) (int, error) {
	n := h.newPerson(d, login)
	t := h.office(d)
	if h.Source == "entra" {
		if err := h.entraHire(t, n); err != nil {
			return 0, err
		}
	} else {
		if err := h.change(t, 0, "create", n, ""); err != nil {
			return 0, err
		}
		if err := h.change(t.Add(time.Minute), 0, "activate", n, ""); err != nil {
			return 0, err
		}
	}
	for app := 0; app < h.Apps; app++ {
		at := t.Add(time.Duration(5+app) * time.Minute)
		if err := h.provision(at, 0, app, n); err != nil {
			return 0, err
		}
		if err := h.scim(at.Add(30*time.Second), app, "POST", n, h.appNet(app), h.appUA(app)); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// The SCIM API's risks, in the apps' request logs.

// plantSCIM plants, four days before the end in every tenant: a SCIM
// client never seen writing from a new network (scim-token-new-client),
// the first app's client setting roles it never set (scim-scope-drift and
// scim-privileged-attribute-write), and the second app's client refused
// thirty times within half an hour (scim-error-burst).
func (h *tenantHistory) plantSCIM(d, endDay time.Time) ([]Plant, error) {
	if !d.Equal(endDay.AddDate(0, 0, -4)) || h.Apps < 2 {
		return nil, nil
	}
	var plants []Plant
	t := h.at(d, 11, 5)
	p, err := h.scimNewClient(t)
	if err != nil {
		return nil, err
	}
	plants = append(plants, p)
	t = h.at(d, 14, 20)
	ps, err := h.scimRoles(t, 0)
	if err != nil {
		return nil, err
	}
	plants = append(plants, ps...)
	t = h.at(d, 15, 0)
	if p, err = h.scimBurst(t, 1, 30, time.Minute); err != nil {
		return nil, err
	}
	plants = append(plants, p)
	t = h.at(d, 16, 10)
	if p, err = h.scimPages(t, 0, 30, 10*time.Second); err != nil {
		return nil, err
	}
	plants = append(plants, p)
	t = h.at(d, 17, 10)
	if p, err = h.scimAdminPut(t, 0, 1); err != nil {
		return nil, err
	}
	return append(plants, p), nil
}

// scimNewClient writes a client id the tenant never saw updating a user
// from a network and tool it never used.
func (h *tenantHistory) scimNewClient(t time.Time) (Plant, error) {
	id := "shadow-sync-" + strconv.Itoa(h.rng.IntN(1000))
	n := h.someone()
	b := append(h.buf[:0], `{"time":"`...)
	b = t.UTC().AppendFormat(b, oktaLayout)
	b = append(b, `","request_id":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `",`...)
	b = kv(b, "client_id", id)
	b = append(b, ',')
	b = kv(b, "app", appName(0)) // the first app's server logged it
	b = append(b, `,"source_ip":"203.0.113.`...)
	b = strconv.AppendInt(b, int64(200+h.rng.IntN(50)), 10)
	b = append(b, `","user_agent":"python-requests/2.32.3","method":"PATCH","path":"/scim/v2/Users/`...)
	b = append(b, h.people[n].appID...)
	b = append(b, `","status":200,"request":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Analyst"}]}}`...)
	h.buf = b
	// The rule's key is the tenant (by: tenant); the client is its term.
	return Plant{Rule: "scim-token-new-client", Tenant: h.Name, Key: h.Name, At: t}, h.out("scim")
}

// scimRoles writes app's client setting roles on a user, from its usual
// network: a client that only ever set titles (scope drift) writing a
// privileged attribute.
func (h *tenantHistory) scimRoles(t time.Time, app int) ([]Plant, error) {
	n := h.someone()
	p := &h.people[n]
	b := h.scimHead(h.buf[:0], t, app, h.appNet(app), h.appUA(app))
	b = append(b, `"method":"PATCH","path":"/scim/v2/Users/`...)
	b = append(b, p.appID...)
	b = append(b, `","status":200,"request":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"roles","value":[{"value":"org-admin","primary":true}]}]}}`...)
	h.buf = b
	return []Plant{
		{Rule: "scim-scope-drift", Tenant: h.Name, Key: h.clientID(app), At: t},
		{Rule: "scim-privileged-attribute-write", Tenant: h.Name, Key: h.clientID(app), At: t},
	}, h.out("scim")
}

// scimAdminGroup writes app's client adding a user to the Domain Admins
// group in the app.
func (h *tenantHistory) scimAdminGroup(t time.Time, app int) (Plant, error) {
	n := h.someone()
	b := h.scimHead(h.buf[:0], t, app, h.appNet(app), h.appUA(app))
	b = append(b, `"method":"PATCH","path":"/scim/v2/Groups/g-domain-admins","status":204,"request":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`...)
	b = append(b, h.people[n].appID...)
	b = append(b, `"}]}]},"response":{"id":"g-domain-admins","displayName":"Domain Admins"}}`...)
	h.buf = b
	return Plant{Rule: "scim-privileged-attribute-write", Tenant: h.Name, Key: h.clientID(app), At: t}, h.out("scim")
}

// scimBurst writes k requests of app's client refused, every apart from t.
func (h *tenantHistory) scimBurst(t time.Time, app, k int, every time.Duration) (Plant, error) {
	for i := 0; i < k; i++ {
		if err := h.scimFail(t.Add(time.Duration(i)*every), app, h.someone(), h.appNet(app), h.appUA(app)); err != nil {
			return Plant{}, err
		}
	}
	return Plant{Rule: "scim-error-burst", Tenant: h.Name, Key: h.clientID(app), At: t}, nil
}

// scimPages writes app's client listing the whole directory, unfiltered,
// in pages pages (of as many users as that takes), every apart from t: a
// bulk read.
func (h *tenantHistory) scimPages(t time.Time, app, pages int, every time.Duration) (Plant, error) {
	total := len(h.people)
	size := (total + pages - 1) / pages
	for i := 0; i < pages; i++ {
		start := 1 + i*size
		b := h.scimHead(h.buf[:0], t.Add(time.Duration(i)*every), app, h.appNet(app), h.appUA(app))
		b = append(b, `"method":"GET","path":"/scim/v2/Users?startIndex=`...)
		b = strconv.AppendInt(b, int64(start), 10)
		b = append(b, `&count=`...)
		b = strconv.AppendInt(b, int64(size), 10)
		b = append(b, `","status":200,"response":{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":`...)
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, `,"startIndex":`...)
		b = strconv.AppendInt(b, int64(start), 10)
		b = append(b, `,"Resources":[`...)
		for k := start - 1; k < min(start-1+size, total); k++ {
			if k > start-1 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = str(b, h.people[k].appID)
			b = append(b, '}')
		}
		b = append(b, `]}}`...)
		h.buf = b
		if err := h.out("scim"); err != nil {
			return Plant{}, err
		}
	}
	return Plant{Rule: "scim-bulk-read", Tenant: h.Name, Key: h.clientID(app), At: t}, nil
}

// provisioned is a random current user the identity provider provisioned
// into the apps in the history (a joiner), else any current user.
func (h *tenantHistory) provisioned() int {
	var joiners []int
	for i := h.Admins; i < len(h.people); i++ {
		if !h.people[i].left && !h.people[i].from.IsZero() {
			joiners = append(joiners, i)
		}
	}
	if len(joiners) == 0 || !h.provisions() {
		return h.someone()
	}
	return joiners[h.rng.IntN(len(joiners))]
}

// scimAdminPut writes app's client replacing admin's account in the app by
// PUT with active true: an admin made active through the SCIM API.
func (h *tenantHistory) scimAdminPut(t time.Time, app, admin int) (Plant, error) {
	p := &h.people[admin]
	b := h.scimHead(h.buf[:0], t, app, h.appNet(app), h.appUA(app))
	b = append(b, `"method":"PUT","path":"/scim/v2/Users/`...)
	b = append(b, p.appID...)
	b = append(b, `","status":200,"request":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`...)
	b = kv(b, "userName", p.login)
	b = append(b, `,"active":true,`...)
	b = kv(b, "displayName", p.name)
	b = append(b, `}}`...)
	h.buf = b
	return Plant{Rule: "scim-admin-activated", Tenant: h.Name, Key: h.clientID(app) + " / " + strings.ToLower(p.login), At: t}, h.out("scim")
}

// entraHire writes an Entra tenant's hire: the HR system's inbound
// provisioning (Workday into Entra ID) creating person n at t, as Graph's
// provisioningObjectSummary for even n and as Azure Monitor's diagnostic
// record (ProvisioningLogs, steps and statuses as numbers) for odd n. The
// source identity is the worker, the target identity the directory's user.
func (h *tenantHistory) entraHire(t time.Time, n int) error {
	p := &h.people[n]
	worker := "WD" + strconv.Itoa(10000+n)
	am := n%2 == 1
	b := h.buf[:0]
	if am {
		b = append(b, `{"time":"`...)
		b = t.UTC().AppendFormat(b, msLayout)
		b = append(b, `","operationName":"Provisioning activity","operationVersion":"1.0","category":"ProvisioningLogs","resultType":"Success","resultSignature":"None","durationMs":1412,"correlationId":"`...)
		b = append(b, h.uuid()...)
		b = append(b, `","Level":4,"properties":`...)
	}
	b = append(b, `{"id":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","activityDateTime":"`...)
	b = t.UTC().AppendFormat(b, msLayout)
	b = append(b, `","jobId":"Workday2AAD.`...)
	b = strconv.AppendUint(b, uint64(fnvOf(h.Name)), 16)
	b = append(b, `.wd","cycleId":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","changeId":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","action":"Create","provisioningAction":"create","provisioningStatusInfo":{"status":"success"},`...)
	// Azure Monitor names keys Id, Name and Details where Graph has id,
	// displayName and details, and writes the steps' enums as numbers.
	id, name, details := "id", "displayName", "details"
	head := `"initiatedBy":{"id":"","displayName":"Microsoft Entra Provisioning Service","initiatorType":"system"},"servicePrincipal":{"id":"sp-workday-inbound","displayName":"Workday to Microsoft Entra user provisioning"},"sourceSystem":{"id":"wd","displayName":"Workday"},"targetSystem":{"id":"aad","displayName":"Microsoft Entra ID"},"sourceIdentity":{`
	steps := `"provisioningSteps":[{"name":"EntryImport","provisioningStepType":"import","status":"success","description":"Retrieved the worker from Workday","details":{}},{"name":"EntryExportAdd","provisioningStepType":"export","status":"success","description":"Created the user in Microsoft Entra ID","details":{}}]`
	if am {
		id, name, details = "Id", "Name", "Details"
		head = `"initiatedBy":{"Id":"","Name":"Microsoft Entra Provisioning Service","Type":"system"},"servicePrincipal":{"Id":"sp-workday-inbound","Name":"Workday to Microsoft Entra user provisioning"},"sourceSystem":{"Id":"wd","Name":"Workday","Details":{}},"targetSystem":{"Id":"aad","Name":"Microsoft Entra ID","Details":{}},"sourceIdentity":{`
		steps = `"provisioningSteps":[{"name":"EntryImport","provisioningStepType":0,"status":0,"description":"Retrieved the worker from Workday","details":{}},{"name":"EntryExportAdd","provisioningStepType":5,"status":0,"description":"Created the user in Microsoft Entra ID","details":{}}]`
	}
	b = append(b, head...)
	b = kv(b, id, worker)
	b = append(b, ',')
	b = kv(b, name, p.name)
	b = append(b, `,"identityType":"Worker",`...)
	b = str(b, details)
	b = append(b, `:{}},"targetIdentity":{`...)
	b = kv(b, id, p.id)
	b = append(b, ',')
	b = kv(b, name, p.name)
	b = append(b, `,"identityType":"User",`...)
	b = str(b, details)
	b = append(b, `:{`...)
	b = kv(b, "userPrincipalName", p.login)
	b = append(b, `}},`...)
	b = append(b, steps...)
	b = append(b, `,"modifiedProperties":[{"displayName":"employeeId","oldValue":null,`...)
	b = kv(b, "newValue", worker)
	b = append(b, `}]}`...)
	if am {
		b = append(b, '}')
	}
	h.buf = b
	return h.out("entra")
}
