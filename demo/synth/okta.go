package synth

import "strings"

type oktaType struct {
	eventType, display string
	targets            string // "", "user", "user+group", "appuser+app+user", "token"
	admin              bool
}

var oktaTypes = []weighted[oktaType]{
	{oktaType{"user.session.start", "User login to Okta", "", false}, 55},
	{oktaType{"user.authentication.sso", "User single sign on to app", "app", false}, 12},
	{oktaType{"policy.evaluate_sign_on", "Evaluation of sign-on policy", "app", false}, 6},
	{oktaType{"group.user_membership.add", "Add user to group membership", "user+group", true}, 6},
	{oktaType{"group.user_membership.remove", "Remove user from group membership", "user+group", true}, 3},
	{oktaType{"application.user_membership.add", "Add user to application membership", "appuser+app+user", true}, 4},
	{oktaType{"user.account.update_profile", "Update user profile for Okta", "user", true}, 5},
	{oktaType{"user.lifecycle.create", "Create Okta user", "user", true}, 3},
	{oktaType{"user.lifecycle.deactivate", "Deactivate Okta user", "user", true}, 2},
	{oktaType{"user.lifecycle.activate", "Activate Okta user", "user", true}, 2},
	{oktaType{"user.account.privilege.grant", "Grant user privilege", "user", true}, 1},
	{oktaType{"system.api_token.create", "Create API token", "token", true}, 1},
}

var apps = []string{"Salesforce.com", "Slack", "GitHub Enterprise", "Workday", "Zoom", "Google Workspace", "AWS IAM Identity Center", "Atlassian Cloud"}

// Okta appends one Okta System Log LogEvent, RFC 3339 times, about 1.5 KB.
func (g *Generator) Okta(dst []byte) []byte {
	t := g.tick()
	typ := pick(g.rng, oktaTypes)
	actor := g.anyUser()
	if typ.admin {
		actor = g.admin()
	}
	subject := g.anyUser()
	success := g.rng.IntN(20) != 0

	dst = append(dst, `{"uuid":"`...)
	dst = g.uuid(dst)
	dst = append(dst, `","published":"`...)
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, `","eventType":`...)
	dst = str(dst, typ.eventType)
	dst = append(dst, `,"version":"0","severity":"INFO","legacyEventType":null,"displayMessage":`...)
	dst = str(dst, typ.display)
	dst = append(dst, `,"actor":{`...)
	dst = kv(dst, "id", actor.id)
	dst = append(dst, `,"type":"User",`...)
	dst = kv(dst, "alternateId", actor.login)
	dst = append(dst, ',')
	dst = kv(dst, "displayName", actor.name)
	dst = append(dst, `,"detailEntry":null},"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","os":"Mac OS X","browser":"CHROME"},"zone":"null","device":"Computer","id":null,"ipAddress":"`...)
	ipStart := len(dst)
	dst = g.ip(dst)
	ip := string(dst[ipStart:])
	dst = append(dst, `","geographicalContext":{"city":"San Francisco","state":"California","country":"United States","postalCode":"94105","geolocation":{"lat":37.7852,"lon":-122.3874}}},"device":null,"authenticationContext":{"authenticationProvider":null,"credentialProvider":null,"credentialType":null,"issuer":null,"interface":null,"authenticationStep":0,"externalSessionId":"102`...)
	dst = g.hex(dst, 12)
	dst = append(dst, `"},"outcome":{"result":`...)
	if success {
		dst = append(dst, `"SUCCESS","reason":null}`...)
	} else {
		dst = append(dst, `"FAILURE","reason":"INVALID_CREDENTIALS"}`...)
	}
	dst = append(dst, `,"securityContext":{"asNumber":7922,"asOrg":"comcast","isp":"comcast cable communications  llc","domain":"comcast.net","isProxy":false},"debugContext":{"debugData":{"requestId":"`...)
	dst = g.uuid(dst)
	dst = append(dst, `","requestUri":"/api/v1/authn","threatSuspected":"false","url":"/api/v1/authn?"`...)
	if typ.eventType == "user.account.privilege.grant" {
		dst = append(dst, `,"privilegeGranted":"Super administrator"`...)
	}
	dst = append(dst, `}},"request":{"ipChain":[{"ip":"`...)
	dst = append(dst, ip...)
	dst = append(dst, `","geographicalContext":{"city":"San Francisco","state":"California","country":"United States","postalCode":"94105","geolocation":{"lat":37.7852,"lon":-122.3874}},"version":"V4","source":null}]},"target":`...)
	dst = g.oktaTargets(dst, typ.targets, subject)
	dst = append(dst, `,"transaction":{"type":"WEB","id":"`...)
	dst = g.hex(dst, 20)
	dst = append(dst, `","detail":{}}}`...)
	return dst
}

func (g *Generator) oktaTargets(dst []byte, kind string, subject person) []byte {
	userT := func(dst []byte, typ string) []byte {
		dst = append(dst, `{"id":`...)
		if typ == "AppUser" {
			// The person's account in the app has an id of its own.
			dst = str(dst, "0ua"+strings.TrimPrefix(subject.id, "00u"))
		} else {
			dst = str(dst, subject.id)
		}
		dst = append(dst, `,"type":`...)
		dst = str(dst, typ)
		dst = append(dst, ',')
		dst = kv(dst, "alternateId", subject.login)
		dst = append(dst, ',')
		dst = kv(dst, "displayName", subject.name)
		return append(dst, `,"detailEntry":null}`...)
	}
	app := apps[g.rng.IntN(len(apps))]
	appT := func(dst []byte) []byte {
		dst = append(dst, `{"id":"0oa`...)
		dst = g.hex(dst, 17)
		dst = append(dst, `","type":"AppInstance",`...)
		dst = kv(dst, "alternateId", app)
		dst = append(dst, ',')
		dst = kv(dst, "displayName", app)
		return append(dst, `,"detailEntry":{"signOnModeType":"SAML_2_0"}}`...)
	}
	switch kind {
	case "":
		return append(dst, "null"...)
	case "user":
		dst = append(dst, '[')
		return append(userT(dst, "User"), ']')
	case "app":
		dst = append(dst, '[')
		return append(appT(dst), ']')
	case "user+group":
		dst = append(dst, '[')
		dst = userT(dst, "User")
		dst = append(dst, `,{"id":"00g`...)
		dst = g.hex(dst, 17)
		dst = append(dst, `","type":"UserGroup","alternateId":"unknown","displayName":"`...)
		dst = append(dst, groups[g.rng.IntN(len(groups))]...)
		return append(dst, `","detailEntry":null}]`...)
	case "appuser+app+user":
		dst = append(dst, '[')
		dst = userT(dst, "AppUser")
		dst = append(dst, ',')
		dst = appT(dst)
		dst = append(dst, ',')
		return append(userT(dst, "User"), ']')
	case "token":
		dst = append(dst, `[{"id":"00T`...)
		dst = g.hex(dst, 17)
		return append(dst, `","type":"Token","alternateId":"unknown","displayName":"ci-deploy","detailEntry":null}]`...)
	}
	return append(dst, "null"...)
}

var groups = []string{"Engineering", "Sales", "Okta Admins", "AWS-Prod-Admins", "Contractors", "Finance", "Support"}
