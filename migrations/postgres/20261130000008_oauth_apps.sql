-- OAuth apps an admin entered under Settings, for their team. The client
-- id is not a secret and lives here; the client secret lives in the secret
-- store under {team}/_oauth_apps/{provider}/client_secret. A team's own app
-- is used instead of one configured in the environment
-- (PATCHBAY_<PROVIDER>_CLIENT_ID / _CLIENT_SECRET).
CREATE TABLE oauth_apps (
    team_id    TEXT   NOT NULL REFERENCES teams (id),
    provider   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    updated_by TEXT   NOT NULL, -- the admin who saved it
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, provider)
);
