-- Artifacts are the table a sync writes most, a row per record. Its
-- foreign keys cost a check per row written, and the index on
-- installation_id served only them (nothing reads by it; teams and
-- installations are never deleted). The one write path,
-- `artifacts::commit_page`, already checks under a lock, in the same
-- transaction, that the installation is the team's and connected
-- (SECURITY C3), so the keys are dropped: `scripts/bench-sync.sh` showed
-- them a large part of a backfill's time.
ALTER TABLE artifacts DROP CONSTRAINT artifacts_team_id_fkey, DROP CONSTRAINT artifacts_installation_id_fkey;
DROP INDEX artifacts_installation;
