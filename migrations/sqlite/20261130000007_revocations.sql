-- Revocations still owed to a provider (SECURITY D6): a disconnect whose
-- revoke request failed for a passing reason (timeout, 5xx, 429) has
-- already wiped the connection; the token to revoke waits in the secret
-- store under {team}/_revocations/{id}, and this row says when to try
-- again. Done, refused for good, or given up after the last attempt, the
-- row and the secret go, with an audit entry.
CREATE TABLE revocations (
    id              TEXT   PRIMARY KEY, -- also the secret's last path segment
    team_id         TEXT   NOT NULL REFERENCES teams (id),
    provider        TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,    -- revoke requests made so far, the disconnect's included
    next_attempt_at BIGINT NOT NULL,    -- unix seconds; a worker taking the row moves it ahead
    last_error      TEXT   NOT NULL,    -- why the last attempt failed, in words, no secrets
    created_at      BIGINT NOT NULL
);
CREATE INDEX revocations_due ON revocations (next_attempt_at);
