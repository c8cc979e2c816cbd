package synth

type entraType struct {
	activity, category, targetType string
}

var entraAudits = []weighted[entraType]{
	{entraType{"Add member to group", "GroupManagement", "group"}, 30},
	{entraType{"Remove member from group", "GroupManagement", "group"}, 12},
	{entraType{"Update user", "UserManagement", "user"}, 25},
	{entraType{"Add user", "UserManagement", "user"}, 8},
	{entraType{"Disable account", "UserManagement", "user"}, 5},
	{entraType{"Add app role assignment to user", "ApplicationManagement", "user"}, 10},
	{entraType{"Add member to role", "RoleManagement", "role"}, 2},
	{entraType{"Reset user password", "UserManagement", "user"}, 8},
}

const tenantID = "4f1e2d3c-aaaa-bbbb-cccc-00000000c0de"

// Entra appends one Entra ID record in the Azure Monitor shape: a sign-in
// (half) or a directory audit, about 1.2 KB.
func (g *Generator) Entra(dst []byte) []byte {
	t := g.tick()
	signIn := g.rng.IntN(2) == 0
	actor := g.anyUser()
	dst = append(dst, `{"time":"`...)
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.0000000Z")
	tid := tenantID
	if g.tenant != "" {
		tid = TenantID(g.tenant)
	}
	dst = append(dst, `","resourceId":"/tenants/`...)
	dst = append(dst, tid...)
	dst = append(dst, `/providers/Microsoft.aadiam","operationVersion":"1.0","tenantId":"`...)
	dst = append(dst, tid...)
	dst = append(dst, `","durationMs":0,"callerIpAddress":"`...)
	ipStart := len(dst)
	dst = g.ip(dst)
	ip := string(dst[ipStart:])
	dst = append(dst, `","correlationId":"`...)
	dst = g.uuid(dst)
	dst = append(dst, `","Level":4,`...)
	if signIn {
		failed := g.rng.IntN(10) == 0
		dst = append(dst, `"operationName":"Sign-in activity","category":"SignInLogs","resultType":"`...)
		if failed {
			dst = append(dst, `50126","resultDescription":"Invalid username or password.",`...)
		} else {
			dst = append(dst, `0",`...)
		}
		dst = append(dst, `"properties":{"id":"`...)
		dst = g.uuid(dst)
		dst = append(dst, `","createdDateTime":"`...)
		dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.0000000+00:00")
		dst = append(dst, `",`...)
		dst = kv(dst, "userDisplayName", actor.name)
		dst = append(dst, ',')
		dst = kv(dst, "userPrincipalName", actor.login)
		dst = append(dst, ',')
		dst = kv(dst, "userId", actor.id)
		dst = append(dst, `,"appId":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","appDisplayName":"Azure Portal","ipAddress":"`...)
		dst = append(dst, ip...)
		dst = append(dst, `","clientAppUsed":"Browser","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","conditionalAccessStatus":"notApplied","isInteractive":true,"riskLevelAggregated":"none","riskState":"none","status":{"errorCode":`...)
		if failed {
			dst = append(dst, `50126,"failureReason":"Invalid username or password."`...)
		} else {
			dst = append(dst, `0`...)
		}
		dst = append(dst, `},"deviceDetail":{"deviceId":"","operatingSystem":"Windows10","browser":"Chrome 131.0.0"},"location":{"city":"Redmond","state":"Washington","countryOrRegion":"US","geoCoordinates":{"latitude":47.68,"longitude":-122.12}}}}`...)
		return dst
	}
	typ := pick(g.rng, entraAudits)
	admin, subject := g.admin(), g.anyUser()
	dst = append(dst, `"operationName":`...)
	dst = str(dst, typ.activity)
	dst = append(dst, `,"category":"AuditLogs","resultSignature":"None","properties":{"id":"Directory_`...)
	dst = g.uuid(dst)
	dst = append(dst, `","category":`...)
	dst = str(dst, typ.category)
	dst = append(dst, `,"correlationId":"`...)
	dst = g.uuid(dst)
	dst = append(dst, `","result":"success","resultReason":"","activityDisplayName":`...)
	dst = str(dst, typ.activity)
	dst = append(dst, `,"activityDateTime":"`...)
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.0000000Z")
	dst = append(dst, `","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{"user":{`...)
	dst = kv(dst, "id", admin.id)
	dst = append(dst, ',')
	dst = kv(dst, "displayName", admin.name)
	dst = append(dst, ',')
	dst = kv(dst, "userPrincipalName", admin.login)
	dst = append(dst, `,"ipAddress":"`...)
	dst = append(dst, ip...)
	dst = append(dst, `","roles":[]}},"targetResources":[{`...)
	dst = kv(dst, "id", subject.id)
	dst = append(dst, ',')
	dst = kv(dst, "displayName", subject.name)
	dst = append(dst, `,"type":"User",`...)
	dst = kv(dst, "userPrincipalName", subject.login)
	dst = append(dst, `,"administrativeUnits":[],"modifiedProperties":[`...)
	switch typ.targetType {
	case "group":
		g1 := groups[g.rng.IntN(len(groups))]
		dst = append(dst, `{"displayName":"Group.ObjectID","oldValue":null,"newValue":"\"`...)
		dst = g.uuid(dst)
		dst = append(dst, `\""},{"displayName":"Group.DisplayName","oldValue":null,"newValue":"\"`...)
		dst = append(dst, g1...)
		dst = append(dst, `\""}`...)
	case "role":
		dst = append(dst, `{"displayName":"Role.ObjectID","oldValue":null,"newValue":"\"62e90394-69f5-4237-9190-012177145e10\""},{"displayName":"Role.DisplayName","oldValue":null,"newValue":"\"User Administrator\""}`...)
	default:
		dst = append(dst, `{"displayName":"Department","oldValue":"[\"Sales\"]","newValue":"[\"Operations\"]"},{"displayName":"Included Updated Properties","oldValue":null,"newValue":"\"Department\""}`...)
	}
	dst = append(dst, `]}],"additionalDetails":[{"key":"User-Agent","value":"Microsoft Azure Graph Client Library 1.0"}]}}`...)
	return dst
}
