-- Outbound push (DESIGN: Delivering records; SECURITY I4): a team's
-- destinations, each delivered the team's change feed in signed batches,
-- in order, at least once. The signing secret is in the secret store.
CREATE TABLE push_destinations (
    id                TEXT   PRIMARY KEY,
    team_id           TEXT   NOT NULL REFERENCES teams (id),
    url               TEXT   NOT NULL,
    state             TEXT   NOT NULL CHECK (state IN ('active', 'dead')),
    delivered_seq     BIGINT NOT NULL,   -- the last change the destination acknowledged
    failures          BIGINT NOT NULL,   -- failed attempts at the batch after it, in a row
    last_error        TEXT,              -- why the last attempt failed, in words
    last_attempt_at   BIGINT,
    last_delivered_at BIGINT,
    created_by        TEXT,
    created_at        BIGINT NOT NULL,
    UNIQUE (team_id, url)
);

-- The job kind push adds. SQLite cannot change a CHECK, so the table is
-- rebuilt with the same columns and indexes.
CREATE TABLE jobs_next (
    id               TEXT   PRIMARY KEY,
    team_id          TEXT   NOT NULL REFERENCES teams (id),
    provider         TEXT   NOT NULL,
    installation_id  TEXT,
    kind             TEXT   NOT NULL CHECK (kind IN ('full_backfill', 'incremental', 'prune', 'revoke_retry',
                                                     'webhook', 'renew_subscription', 'push')),
    state            TEXT   NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'interrupted')),
    dedupe_key       TEXT,
    payload          TEXT   NOT NULL,
    attempts         BIGINT NOT NULL,
    max_attempts     BIGINT NOT NULL,
    run_after        BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    progress_done    BIGINT NOT NULL,
    progress_total   BIGINT,
    items            BIGINT NOT NULL,
    error_class      TEXT   CHECK (error_class IN ('transient', 'permanent', 'partial')),
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL
);
INSERT INTO jobs_next SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_next RENAME TO jobs;
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE state IN ('queued', 'running', 'interrupted');
CREATE INDEX jobs_due ON jobs (state, run_after);
CREATE INDEX jobs_team ON jobs (team_id, created_at);
