-- App-wide webhooks (a GitHub App's one URL): which connections a
-- delivery's routing id names (DESIGN: Webhooks). A connection's
-- subscription records its ids (GitHub installation ids); renewing reads
-- them again. One id may route to connections of several teams, each of
-- which applies the delivery to its own records.
CREATE TABLE webhook_routes (
    provider    TEXT NOT NULL,
    route_key   TEXT NOT NULL,                 -- the payload's id at the catalog's `route` pointer
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    PRIMARY KEY (provider, route_key, endpoint_id)
);
CREATE INDEX webhook_routes_endpoint ON webhook_routes (endpoint_id);

-- The single account key it replaces could name one connection per id.
DROP INDEX webhook_endpoints_account;
ALTER TABLE webhook_endpoints DROP COLUMN account_key;
