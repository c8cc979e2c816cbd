package synth

import (
	"strconv"
	"time"
)

// API tokens in the Okta tenants: created and revoked by an admin, used by
// the nightly job that updates profiles through Okta's API (each request
// names its token in transaction.detail.requestApiTokenId).

// tokenID is a token's id, stable for the tenant and name.
func (h *tenantHistory) tokenID(name string) string {
	return "00T" + strconv.FormatUint(uint64(fnvOf(h.Name+"/"+name)), 36) + "tok"
}

// token writes an admin's system.api_token.create or .revoke of token name.
func (h *tenantHistory) token(t time.Time, typ string, admin int, name string) error {
	b := h.oktaHead(h.buf[:0], t, typ, admin)
	b = append(b, `,"target":[{"id":`...)
	b = str(b, h.tokenID(name))
	b = append(b, `,"type":"Token","alternateId":"unknown",`...)
	b = kv(b, "displayName", name)
	b = append(b, `,"detailEntry":null}]}`...)
	h.buf = b
	return h.out("okta")
}

// apiCall writes a profile update of person n made through the API with
// token name, by the token's owner admin.
func (h *tenantHistory) apiCall(t time.Time, admin int, name string, n int) error {
	p := &h.people[n]
	b := append(h.buf[:0], `{"uuid":"`...)
	b = append(b, h.uuid()...)
	b = append(b, `","published":"`...)
	b = t.UTC().AppendFormat(b, oktaLayout)
	b = append(b, `","eventType":"user.account.update_profile","version":"0","severity":"INFO","actor":{`...)
	b = oktaActor(b, &h.people[admin])
	b = append(b, `},"client":{"userAgent":{"rawUserAgent":"okta-sdk-python/2.9.0"},"zone":"null","device":"Unknown","ipAddress":"198.18.0.`...)
	b = strconv.AppendInt(b, int64(10+admin%200), 10)
	b = append(b, `"},"outcome":{"result":"SUCCESS","reason":null},"transaction":{"type":"WEB","id":"`...)
	b = append(b, h.uuid()[:20]...)
	b = append(b, `","detail":{"requestApiTokenId":`...)
	b = str(b, h.tokenID(name))
	b = append(b, `}},"target":[{"id":`...)
	b = str(b, p.id)
	b = append(b, `,"type":"User",`...)
	b = kv(b, "alternateId", p.login)
	b = append(b, ',')
	b = kv(b, "displayName", p.name)
	b = append(b, `,"detailEntry":null}]}`...)
	h.buf = b
	return h.out("okta")
}

// tokenUse is the nightly job's use of token name on day d: a few profile
// updates at 02:30 local.
func (h *tenantHistory) tokenUse(d time.Time, name string) error {
	t := h.at(d, 2, 30)
	for k := 0; k < 2; k++ {
		if err := h.apiCall(t.Add(time.Duration(k)*time.Minute), 0, name, h.someone()); err != nil {
			return err
		}
	}
	return nil
}

// tokens runs the Okta tenants' API tokens on day d of a history from
// start to endDay: a token rotated routinely (hr-sync-1 from the start,
// replaced by hr-sync-2 halfway, revoked the day after), and, when
// planting, a token created 95 days ago and used every night
// (credential-not-rotated) and one revoked three days ago and used the
// night before the end (credential-used-after-revoke).
func (h *tenantHistory) tokens(d, start, endDay time.Time, plant bool) ([]Plant, error) {
	if h.Source != "okta" {
		return nil, nil
	}
	half := start.AddDate(0, 0, int(endDay.Sub(start).Hours()/24)/2)
	var err error
	use := func(name string) {
		if err == nil {
			err = h.tokenUse(d, name)
		}
	}
	switch {
	case d.Equal(start):
		err = h.token(h.office(d), "system.api_token.create", 0, "hr-sync-1")
	case d.Equal(half):
		err = h.token(h.office(d), "system.api_token.create", 0, "hr-sync-2")
	case d.Equal(half.AddDate(0, 0, 1)):
		err = h.token(h.office(d), "system.api_token.revoke", 0, "hr-sync-1")
	}
	if d.Before(half.AddDate(0, 0, 1)) {
		use("hr-sync-1")
	}
	if !d.Before(half) {
		use("hr-sync-2")
	}
	if !plant {
		return nil, err
	}
	var plants []Plant
	if d.Equal(start) {
		// Created long before the history, used every night.
		if err == nil {
			err = h.token(h.office(endDay.AddDate(0, 0, -95)), "system.api_token.create", 0, "legacy-export")
		}
	}
	use("legacy-export")
	switch {
	case d.Equal(endDay.AddDate(0, 0, -10)):
		if err == nil {
			err = h.token(h.office(d), "system.api_token.create", 0, "contractor-script")
		}
	case d.Equal(endDay.AddDate(0, 0, -3)):
		if err == nil {
			err = h.token(h.office(d), "system.api_token.revoke", 0, "contractor-script")
		}
	case d.Equal(endDay.AddDate(0, 0, -1)):
		use("contractor-script")
		plants = append(plants,
			Plant{Rule: "credential-not-rotated", Tenant: h.Name, Key: h.tokenID("legacy-export"), At: d},
			Plant{Rule: "credential-used-after-revoke", Tenant: h.Name, Key: h.tokenID("contractor-script"), At: h.at(d, 2, 30)})
	}
	if d.After(endDay.AddDate(0, 0, -10)) && d.Before(endDay.AddDate(0, 0, -3)) {
		use("contractor-script")
	}
	return plants, err
}
