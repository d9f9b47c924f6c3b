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

-- The job kind push adds.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('full_backfill', 'incremental', 'prune', 'revoke_retry', 'webhook', 'renew_subscription', 'push'));
