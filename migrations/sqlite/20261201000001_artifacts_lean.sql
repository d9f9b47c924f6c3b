-- Artifacts are the table a sync writes most, a row per record. Its
-- foreign keys cost two lookups per row written, and the index on
-- installation_id served only them (nothing reads by it; teams and
-- installations are never deleted). The one write path,
-- `artifacts::commit_page`, already checks under a lock, in the same
-- transaction, that the installation is the team's and connected
-- (SECURITY C3), so the keys are dropped: `scripts/bench-sync.sh` showed
-- them a large part of a backfill's time. SQLite drops a foreign key
-- only by rebuilding the table.
CREATE TABLE artifacts_lean (
    team_id           TEXT   NOT NULL,
    provider          TEXT   NOT NULL,
    entity_type       TEXT   NOT NULL,
    entity_id         TEXT   NOT NULL,
    installation_id   TEXT   NOT NULL,
    title             TEXT   NOT NULL,
    url               TEXT   NOT NULL, -- deep link back to the source app
    content           TEXT   NOT NULL, -- JSON
    source_updated_at BIGINT NOT NULL, -- unix seconds, as the source says
    synced_at         BIGINT NOT NULL,
    PRIMARY KEY (team_id, provider, entity_type, entity_id)
);
INSERT INTO artifacts_lean (team_id, provider, entity_type, entity_id, installation_id, title, url, content,
                            source_updated_at, synced_at)
SELECT team_id, provider, entity_type, entity_id, installation_id, title, url, content, source_updated_at, synced_at
FROM artifacts;
DROP TABLE artifacts;
ALTER TABLE artifacts_lean RENAME TO artifacts;
