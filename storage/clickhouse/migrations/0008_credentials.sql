-- The credential inventory: per tenant, credential and day, what that day's
-- events say about an API token, app secret, certificate or SCIM token: its
-- name and owner (the app it belongs to, else who acted with it), when the
-- logs first show it, when it was created and last revoked, and when it was
-- last used. A credential is an event's target of type credential: the one
-- created or revoked (Okta system.api_token.*, Entra "Certificates and secrets
-- management" and service principal credentials, by KeyIdentifier), or the
-- one a request authenticated with (Okta transaction.detail.requestApiTokenId,
-- Entra service principal sign-ins' servicePrincipalCredentialKeyId). States
-- merge across days as account_days' do. credential-not-rotated,
-- credential-used-after-revoke and the account hygiene dashboard read it.

CREATE TABLE IF NOT EXISTS {{.Database}}.credentials (
    tenant String,
    credential_id String,
    day Date,
    name AggregateFunction(argMax, String, Tuple(UInt64, String)),
    owner AggregateFunction(argMax, String, Tuple(UInt64, String)),
    first_seen AggregateFunction(min, UInt64),
    created AggregateFunction(min, UInt64),
    revoked AggregateFunction(max, UInt64),
    last_used AggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, credential_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.credentials_mv TO {{.Database}}.credentials AS
{{template "credentials" .}}
GROUP BY tenant, credential_id, day;

-- for each events partition
INSERT INTO {{.Database}}.credentials {{template "credentials" .}} AND toYYYYMMDD(time) = $partition
GROUP BY tenant, credential_id, day;
