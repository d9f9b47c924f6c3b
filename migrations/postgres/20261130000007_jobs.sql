-- The job queue (DESIGN: Backfill and sync). A job is a unit of work for
-- one team and provider: a full backfill, an incremental sync, a prune, or
-- a revoke still owed to a provider after a disconnect.
--
-- A worker takes a due job by setting its lease (owner and expiry) and
-- keeps it with heartbeats; a job whose lease lapsed (its worker died) is
-- marked 'interrupted' and taken again, resuming from its cursor. At most
-- one queued, running or interrupted job exists per dedupe key (SECURITY
-- F6), so two "Sync now" clicks make one job. Payloads hold no secrets.
CREATE TABLE jobs (
    id               TEXT   PRIMARY KEY,
    team_id          TEXT   NOT NULL REFERENCES teams (id),
    provider         TEXT   NOT NULL,
    installation_id  TEXT,            -- NULL for work that outlives a connection (revoke_retry)
    kind             TEXT   NOT NULL CHECK (kind IN ('full_backfill', 'incremental', 'prune', 'revoke_retry')),
    state            TEXT   NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'interrupted')),
    dedupe_key       TEXT,            -- deterministic, e.g. 'incremental:{installation}'
    payload          TEXT   NOT NULL, -- JSON, never a secret
    attempts         BIGINT NOT NULL, -- times taken by a worker
    max_attempts     BIGINT NOT NULL,
    run_after        BIGINT NOT NULL, -- unix seconds: not taken before
    lease_owner      TEXT,            -- the worker holding it while running
    lease_expires_at BIGINT,
    progress_done    BIGINT NOT NULL,
    progress_total   BIGINT,          -- NULL while unknown
    items            BIGINT NOT NULL, -- records written
    error_class      TEXT   CHECK (error_class IN ('transient', 'permanent', 'partial')),
    last_error       TEXT,            -- in words, no secrets
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE state IN ('queued', 'running', 'interrupted');
CREATE INDEX jobs_due ON jobs (state, run_after);
CREATE INDEX jobs_team ON jobs (team_id, created_at);
