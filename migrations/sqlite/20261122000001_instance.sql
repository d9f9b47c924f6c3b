-- The identity of this Patchbay deployment: one row, created on first start.
-- Shown under Settings so an operator can tell deployments apart.
CREATE TABLE instance (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT    NOT NULL,
    created_at BIGINT  NOT NULL -- unix seconds, UTC
);
