-- Synced records (DESIGN: Artifact): one row per (team, provider, entity
-- type, entity id), written by upsert so that replaying a page changes
-- nothing (SECURITY F1), in the same transaction as the cursor that
-- follows the page (F2). Item counts per entity type come from here.
CREATE TABLE artifacts (
    team_id           TEXT   NOT NULL REFERENCES teams (id),
    provider          TEXT   NOT NULL,
    entity_type       TEXT   NOT NULL,
    entity_id         TEXT   NOT NULL,
    installation_id   TEXT   NOT NULL REFERENCES installations (id),
    title             TEXT   NOT NULL,
    url               TEXT   NOT NULL, -- deep link back to the source app
    content           TEXT   NOT NULL, -- JSON
    source_updated_at BIGINT NOT NULL, -- unix seconds, as the source says
    synced_at         BIGINT NOT NULL,
    PRIMARY KEY (team_id, provider, entity_type, entity_id)
);
CREATE INDEX artifacts_installation ON artifacts (installation_id, entity_type);
