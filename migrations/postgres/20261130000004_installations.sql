-- Installations (a team's connection to one provider), their sync cursors,
-- and the audit log of who changed them.
--
-- A team has at most one installation per provider. Disconnecting keeps the
-- row (state 'disconnected', with its settings, account and cursors wiped)
-- so that a reconnect re-activates it. 'connecting' marks a connect that
-- is storing its secrets: it keeps a second, concurrent connect out, and
-- one left behind by a crash is taken over after a few minutes. Secrets are never stored here: the
-- settings column holds only the non-secret fields of a credential form,
-- such as a base URL; keys live in the secret store.
CREATE TABLE installations (
    id           TEXT   PRIMARY KEY,
    team_id      TEXT   NOT NULL REFERENCES teams (id),
    provider     TEXT   NOT NULL,
    state        TEXT   NOT NULL CHECK (state IN ('connecting', 'connected', 'syncing', 'needs_reauth', 'error', 'disconnected')),
    account_id   TEXT   NOT NULL, -- the provider's stable id of the connected account
    display_name TEXT   NOT NULL, -- shown on the card: "Connected as …"
    settings     TEXT   NOT NULL, -- JSON object of non-secret field values
    claim        TEXT,            -- while 'connecting': the claiming connect's random token
    prior_state  TEXT,            -- while 'connecting': the state to restore if it fails
    connected_by TEXT,            -- the user who connected it
    connected_at BIGINT,
    updated_at   BIGINT NOT NULL,
    UNIQUE (team_id, provider)
);

-- Opaque resume points: one per job stream of an installation (the
-- incremental watermark, a backfill's page cursor). Wiped on disconnect and
-- whenever the credentials reach a different account.
CREATE TABLE cursors (
    installation_id TEXT   NOT NULL REFERENCES installations (id),
    name            TEXT   NOT NULL,
    value           TEXT   NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (installation_id, name)
);

-- Who did what to which installation or user, and when. Append-only.
CREATE TABLE audit_events (
    seq        BIGSERIAL PRIMARY KEY, -- the order entries were written in
    team_id    TEXT   NOT NULL REFERENCES teams (id),
    actor_id   TEXT,           -- the user, or NULL for the system
    action     TEXT   NOT NULL, -- 'installation.connected', 'installation.disconnected', …
    subject    TEXT   NOT NULL, -- what it was done to: a provider id or a user id
    detail     TEXT   NOT NULL, -- a sentence with no secrets, for people
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_team ON audit_events (team_id, seq);
