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

-- Keyword search over records' titles and the string values in their
-- content: a tsvector column with a GIN index, set by a trigger inside the
-- transaction that writes the record, and only when the title or the
-- content is written (a re-sync that only marks a record seen leaves it).
-- The 'simple' configuration: records come in every language, and the
-- SQLite index does not stem either.
ALTER TABLE artifacts ADD COLUMN search tsvector;
CREATE FUNCTION artifacts_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := setweight(to_tsvector('simple'::regconfig, NEW.title), 'A')
        || setweight(jsonb_to_tsvector('simple'::regconfig, NEW.content::jsonb, '["string"]'), 'B');
    RETURN NEW;
END
$$;
CREATE TRIGGER artifacts_search BEFORE INSERT OR UPDATE OF title, content ON artifacts
    FOR EACH ROW EXECUTE FUNCTION artifacts_search_text();
UPDATE artifacts SET title = title;
CREATE INDEX artifacts_search ON artifacts USING GIN (search);

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
