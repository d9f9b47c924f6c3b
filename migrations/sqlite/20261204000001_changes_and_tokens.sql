-- Delivering records (DESIGN: Delivering records; SECURITY I).

-- What a record's last write held, as 64 bits of SHA-256 over its title,
-- link, content and source time: a write of the same record again is not
-- a change, so a re-sync does not flood the feed. 0 for rows written
-- before the feed existed; their next write is a change.
ALTER TABLE artifacts ADD COLUMN digest BIGINT NOT NULL DEFAULT 0;

-- A team's change feed: every upsert and removal of a record that a
-- sync, a webhook or a disconnect committed, in commit order. `seq` is
-- handed out from the team's `change_heads` row inside the committing
-- transaction, after its writes, and that row stays locked until the
-- commit: a team's sequences therefore commit in order, and a reader who
-- reads up to the head it saw first never skips one (SECURITY I3). An
-- upsert carries the record as it was written; a delete carries only its
-- key.
CREATE TABLE changes (
    team_id           TEXT   NOT NULL,
    seq               BIGINT NOT NULL,
    op                TEXT   NOT NULL CHECK (op IN ('upsert', 'delete')),
    provider          TEXT   NOT NULL,
    entity_type       TEXT   NOT NULL,
    entity_id         TEXT   NOT NULL,
    title             TEXT,
    url               TEXT,
    content           TEXT,              -- JSON
    source_updated_at BIGINT,            -- unix seconds
    synced_at         BIGINT,            -- unix seconds
    committed_at      BIGINT NOT NULL,   -- unix seconds: retention counts from here
    PRIMARY KEY (team_id, seq)
);
CREATE INDEX changes_retention ON changes (committed_at);

-- Each team's last sequence handed out, and the last one retention
-- removed: a cursor before it cannot be served whole (410).
CREATE TABLE change_heads (
    team_id        TEXT   PRIMARY KEY,
    last_seq       BIGINT NOT NULL DEFAULT 0,
    pruned_through BIGINT NOT NULL DEFAULT 0
);

-- Keyword search over records' titles and the text in their content,
-- kept in step with `artifacts` by its triggers, inside the transaction
-- that writes the record. Contentless: the text lives in `artifacts`
-- once; rows are found by the artifact's rowid.
CREATE VIRTUAL TABLE artifacts_search USING fts5 (
    title, body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER artifacts_search_insert AFTER INSERT ON artifacts BEGIN
    INSERT INTO artifacts_search (rowid, title, body) VALUES (
        new.rowid, new.title,
        (SELECT group_concat(value, ' ') FROM json_tree(new.content) WHERE type = 'text'));
END;
CREATE TRIGGER artifacts_search_update AFTER UPDATE OF title, content ON artifacts
    WHEN old.title IS NOT new.title OR old.content IS NOT new.content BEGIN
    DELETE FROM artifacts_search WHERE rowid = old.rowid;
    INSERT INTO artifacts_search (rowid, title, body) VALUES (
        new.rowid, new.title,
        (SELECT group_concat(value, ' ') FROM json_tree(new.content) WHERE type = 'text'));
END;
CREATE TRIGGER artifacts_search_delete AFTER DELETE ON artifacts BEGIN
    DELETE FROM artifacts_search WHERE rowid = old.rowid;
END;
INSERT INTO artifacts_search (rowid, title, body)
SELECT rowid, title, (SELECT group_concat(value, ' ') FROM json_tree(artifacts.content) WHERE type = 'text')
FROM artifacts;

-- A team's credentials for the records API and MCP (SECURITY I2): the
-- token is shown once and only its SHA-256 is kept.
CREATE TABLE api_tokens (
    id           TEXT   PRIMARY KEY,
    team_id      TEXT   NOT NULL REFERENCES teams (id),
    name         TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,          -- space-separated: records:read connections:read mcp
    digest       TEXT   NOT NULL UNIQUE,   -- hex SHA-256 of the whole token
    hint         TEXT   NOT NULL,          -- its last four characters, to tell tokens apart
    created_by   TEXT   REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,                   -- unix seconds; NULL never
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_team ON api_tokens (team_id, created_at);
