-- Each connection's webhook endpoint (DESIGN: Webhooks; SECURITY H): the
-- unguessable id its provider posts to, and what is registered at the
-- provider. The signing secret is in the secret store, never here.
CREATE TABLE webhook_endpoints (
    id              TEXT   PRIMARY KEY,        -- 128 random bits, hex: the URL's {endpoint}
    team_id         TEXT   NOT NULL REFERENCES teams (id),
    installation_id TEXT   NOT NULL UNIQUE REFERENCES installations (id),
    provider        TEXT   NOT NULL,
    account_key     TEXT,                      -- for app-wide URLs: the payload's account id that routes here
    subscription    TEXT,                      -- JSON: the provider's ids for what is registered; NULL if nothing is
    expires_at      BIGINT,                    -- unix seconds: when the provider stops delivering unless renewed
    renewed_at      BIGINT,                    -- unix seconds: last registered or renewed
    renew_error     TEXT,                      -- why the last registration or renewal failed, in words
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_endpoints_account ON webhook_endpoints (provider, account_key)
    WHERE account_key IS NOT NULL;
CREATE INDEX webhook_endpoints_expiry ON webhook_endpoints (expires_at);

-- Every verified delivery, by the provider's delivery id (or a digest of
-- its body): a duplicate finds its row and is not processed again
-- (SECURITY H5, CONNECTOR-RULES 41). Kept for the provider's retry
-- window, then swept. Refused deliveries are never stored.
CREATE TABLE webhook_deliveries (
    id              TEXT   PRIMARY KEY,
    team_id         TEXT   NOT NULL REFERENCES teams (id),
    installation_id TEXT   NOT NULL REFERENCES installations (id),
    provider        TEXT   NOT NULL,
    delivery_key    TEXT   NOT NULL,           -- the provider's delivery id, or sha256:<body digest>
    event           TEXT,                      -- the provider's event name, when it sends one
    received_at     BIGINT NOT NULL,           -- unix milliseconds
    body            BYTEA  NOT NULL,    -- the raw body, at most 1 MiB
    state           TEXT   NOT NULL CHECK (state IN ('queued', 'applied', 'failed')),
    result          TEXT,                      -- what applying it did, or why it failed, in words
    applied_at      BIGINT,                    -- unix milliseconds
    keep_until      BIGINT NOT NULL,           -- unix seconds: swept after
    UNIQUE (installation_id, delivery_key)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (team_id, provider, received_at);
CREATE INDEX webhook_deliveries_sweep ON webhook_deliveries (keep_until);

-- Records a webhook event removed, and when the event says it happened:
-- a late event about the record from before then does not bring it back
-- (CONNECTOR-RULES 42). Swept with the deliveries' retry window.
CREATE TABLE webhook_tombstones (
    team_id     TEXT   NOT NULL REFERENCES teams (id),
    provider    TEXT   NOT NULL,
    entity_type TEXT   NOT NULL,
    entity_id   TEXT   NOT NULL,
    removed_at  BIGINT NOT NULL,                   -- unix seconds: the event's time
    keep_until  BIGINT NOT NULL,                   -- unix seconds: swept after
    PRIMARY KEY (team_id, provider, entity_type, entity_id)
);

-- Refused deliveries to a known endpoint, counted by the hour for the
-- provider page; the bodies are never kept.
CREATE TABLE webhook_refusals (
    installation_id TEXT   NOT NULL REFERENCES installations (id),
    hour            BIGINT NOT NULL,           -- unix seconds / 3600
    refused         BIGINT NOT NULL,
    PRIMARY KEY (installation_id, hour)
);

-- The job kinds webhooks add: applying a delivery, and registering or
-- renewing a connection's subscription.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('full_backfill', 'incremental', 'prune', 'revoke_retry', 'webhook', 'renew_subscription'));
