package entra

import (
	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// record is one Entra ID record in any of the shapes Microsoft delivers:
//   - Azure Monitor / Event Hubs diagnostic record: top-level time, tenantId,
//     category, operationName, properties{...};
//   - Event Hubs batch {"records": [...]} and Graph list {"value": [...]};
//   - Graph API objects (directoryAudit, signIn, provisioningObjectSummary),
//     which are Azure Monitor's properties, unwrapped.
//
// The Graph object's fields are embedded at the top level, so one decode
// reads every shape. Matching is case-insensitive (Id/id, Type/type).
type record struct {
	object

	Time            string          `json:"time"`
	ResourceID      string          `json:"resourceId"`
	CallerIPAddress string          `json:"callerIpAddress"`
	ResultType      norm.FlexString `json:"resultType"`
	Properties      *object         `json:"properties"`

	Records []json.RawMessage `json:"records"`
	Value   []json.RawMessage `json:"value"`
}

// object is the union of Graph's directoryAudit, signIn and
// provisioningObjectSummary (and so of Azure Monitor's properties).
type object struct {
	ID            string `json:"id"`
	Category      string `json:"category"`
	CorrelationID string `json:"correlationId"`
	OperationName string `json:"operationName"`
	TenantID      string `json:"tenantId"`

	// directoryAudit
	ActivityDisplayName string             `json:"activityDisplayName"`
	ActivityDateTime    string             `json:"activityDateTime"`
	Result              string             `json:"result"`
	ResultReason        string             `json:"resultReason"`
	InitiatedBy         initiatedBy        `json:"initiatedBy"`
	TargetResources     []targetResource   `json:"targetResources"`
	AdditionalDetails   []keyValue         `json:"additionalDetails"`
	ModifiedProperties  []modifiedProperty `json:"modifiedProperties"`

	// signIn
	CreatedDateTime      string `json:"createdDateTime"`
	UserID               string `json:"userId"`
	UserPrincipalName    string `json:"userPrincipalName"`
	UserDisplayName      string `json:"userDisplayName"`
	IPAddress            string `json:"ipAddress"`
	AppID                string `json:"appId"`
	AppDisplayName       string `json:"appDisplayName"`
	ServicePrincipalID   string `json:"servicePrincipalId"`
	ServicePrincipalName string `json:"servicePrincipalName"`
	// ServicePrincipalCredentialKeyID is the key (secret or certificate)
	// a service principal signed in with.
	ServicePrincipalCredentialKeyID string `json:"servicePrincipalCredentialKeyId"`
	UserAgent                       string `json:"userAgent"`
	ResourceID                      string `json:"resourceId"`
	ResourceDisplayName             string `json:"resourceDisplayName"`
	Status                          struct {
		ErrorCode     norm.FlexInt `json:"errorCode"`
		FailureReason string       `json:"failureReason"`
	} `json:"status"`

	// provisioningObjectSummary
	JobID                  string `json:"jobId"`
	ProvisioningAction     string `json:"provisioningAction"`
	Action                 string `json:"action"`
	ProvisioningStatusInfo struct {
		Status           norm.FlexString `json:"status"`
		ErrorInformation struct {
			Reason    string `json:"reason"`
			ErrorCode string `json:"errorCode"`
		} `json:"errorInformation"`
	} `json:"provisioningStatusInfo"`
	ServicePrincipal *named   `json:"servicePrincipal"`
	SourceIdentity   identity `json:"sourceIdentity"`
	TargetIdentity   identity `json:"targetIdentity"`
	SourceSystem     *named   `json:"sourceSystem"`
	TargetSystem     *named   `json:"targetSystem"`
}

// extra holds the fields of the rarer record kinds, risk detections and
// Graph activity: decoded in a second pass only for records that may be
// one (by category, or when no other kind matched), so that the common
// records do not pay for them.
type extra struct {
	// riskDetection (Graph) and UserRiskEvents (Azure Monitor)
	RiskEventType    string `json:"riskEventType"`
	RiskLevel        string `json:"riskLevel"`
	RiskDetail       string `json:"riskDetail"`
	RiskState        string `json:"riskState"`
	DetectedDateTime string `json:"detectedDateTime"`
	// riskyUser (Graph) and RiskyUsers (Azure Monitor): a user's risk
	// state, as of its last update.
	RiskLastUpdatedDateTime string `json:"riskLastUpdatedDateTime"`

	// MicrosoftGraphActivityLogs
	RequestMethod      string       `json:"requestMethod"`
	RequestURI         string       `json:"requestUri"`
	ResponseStatusCode norm.FlexInt `json:"responseStatusCode"`
	TimeGenerated      string       `json:"timeGenerated"`
}

type extraRecord struct {
	extra
	Properties *extra `json:"properties"`
}

// provisioningStep is one step of a provisioning event (import, scoping,
// matching, action, export); a skipped event says why in its details.
// Graph writes the type and status as names; Azure Monitor's diagnostic
// records (Event Hubs, storage) as the enums' numbers (see stepStatus).
type provisioningStep struct {
	Name                 string                     `json:"name"`
	ProvisioningStepType norm.FlexString            `json:"provisioningStepType"`
	Status               norm.FlexString            `json:"status"`
	Description          string                     `json:"description"`
	Details              map[string]norm.FlexString `json:"details"`
}

type initiatedBy struct {
	User *struct {
		ID                string `json:"id"`
		DisplayName       string `json:"displayName"`
		UserPrincipalName string `json:"userPrincipalName"`
		IPAddress         string `json:"ipAddress"`
	} `json:"user"`
	App *struct {
		AppID                string `json:"appId"`
		DisplayName          string `json:"displayName"`
		ServicePrincipalID   string `json:"servicePrincipalId"`
		ServicePrincipalName string `json:"servicePrincipalName"`
	} `json:"app"`
	// provisioningObjectSummary's initiator (Azure Monitor's Name and Type
	// are in provExtra).
	ID            string `json:"id"`
	DisplayName   string `json:"displayName"`
	InitiatorType string `json:"initiatorType"`
}

type targetResource struct {
	ID                 string             `json:"id"`
	DisplayName        string             `json:"displayName"`
	Type               string             `json:"type"`
	UserPrincipalName  string             `json:"userPrincipalName"`
	ModifiedProperties []modifiedProperty `json:"modifiedProperties"`
}

type modifiedProperty struct {
	DisplayName string          `json:"displayName"`
	OldValue    norm.FlexString `json:"oldValue"`
	NewValue    norm.FlexString `json:"newValue"`
}

type keyValue struct {
	Key   string          `json:"key"`
	Value norm.FlexString `json:"value"`
}

type named struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// identity is a provisioned object on one side (source or target).
// identityType is a name ("User") or a SCIM schema URN
// ("urn:ietf:params:scim:schemas:core:2.0:Group").
type identity struct {
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	IdentityType string `json:"identityType"`
}

// provExtra holds what only provisioning events need besides the
// summary's own fields: Azure Monitor's Name and Type keys, an identity's
// details, and the steps (a skipped event says why in them). Decoded in a
// second pass for provisioning records only, so that audit and sign-in
// records do not pay for them.
type provExtra struct {
	InitiatedBy struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"initiatedBy"`
	ServicePrincipal  nameOnly           `json:"servicePrincipal"`
	SourceSystem      nameOnly           `json:"sourceSystem"`
	TargetSystem      nameOnly           `json:"targetSystem"`
	SourceIdentity    identityExtra      `json:"sourceIdentity"`
	TargetIdentity    identityExtra      `json:"targetIdentity"`
	ProvisioningSteps []provisioningStep `json:"provisioningSteps"`
}

type nameOnly struct {
	Name string `json:"name"`
}

type identityExtra struct {
	Name    string                     `json:"name"`
	Details map[string]norm.FlexString `json:"details"`
}

type provExtraRecord struct {
	provExtra
	Properties *provExtra `json:"properties"`
}
