-- OAuth connects in progress: one row per authorize request, taken out
-- (deleted) by the callback that completes it, and swept once expired.
-- The state and the browser session are kept only as SHA-256 digests, so a
-- leaked row cannot be replayed; the PKCE verifier lives ten minutes.
CREATE TABLE oauth_transactions (
    state_hash   TEXT   PRIMARY KEY,
    session_hash TEXT   NOT NULL,
    team_id      TEXT   NOT NULL REFERENCES teams (id),
    user_id      TEXT   NOT NULL,
    provider     TEXT   NOT NULL,
    verifier     TEXT,            -- PKCE code verifier; NULL where the provider has no PKCE
    redirect_uri TEXT   NOT NULL, -- exactly as sent in the authorize request (SECURITY A7)
    return_to    TEXT   NOT NULL, -- a same-site path (SECURITY A8)
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX oauth_transactions_expires_at ON oauth_transactions (expires_at);
