-- Teams, their users, invites and browser sessions. Every team-owned row
-- carries team_id, and every query on it filters by the team taken from the
-- server-side session (SECURITY C1).

CREATE TABLE teams (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- A person belongs to exactly one team; emails are unique across teams so
-- that sign-in needs no team picker. Emails are stored lower-cased.
CREATE TABLE users (
    id            TEXT   PRIMARY KEY,
    team_id       TEXT   NOT NULL REFERENCES teams (id),
    email         TEXT   NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    password_hash TEXT   NOT NULL, -- argon2id, PHC string
    role          TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_team ON users (team_id);

-- Invite links are single-use and expire; only the SHA-256 of the token is kept.
CREATE TABLE invites (
    id          TEXT   PRIMARY KEY,
    team_id     TEXT   NOT NULL REFERENCES teams (id),
    token_hash  TEXT   NOT NULL UNIQUE,
    role        TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT,
    revoked_at  BIGINT
);
CREATE INDEX invites_team ON invites (team_id);

-- tower-sessions records, serialised as JSON. Expired rows are swept periodically.
CREATE TABLE sessions (
    id         TEXT   PRIMARY KEY,
    data       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Failed sign-ins, per account (scope 'email') and per client address
-- (scope 'address'), for throttling. Rows older than the window are pruned.
CREATE TABLE login_failures (
    scope     TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX login_failures_lookup ON login_failures (scope, subject, failed_at);
