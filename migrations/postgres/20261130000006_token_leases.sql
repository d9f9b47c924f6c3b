-- One refresh per connection at a time, across replicas (SECURITY E1): a
-- process refreshes a connection's token only while it holds the lease
-- row, which lapses by itself if the holder dies. The secret store's
-- versioned write is the second guard.
CREATE TABLE token_leases (
    installation_id TEXT   PRIMARY KEY REFERENCES installations (id),
    holder          TEXT   NOT NULL, -- a random id of the process and call holding it
    expires_at      BIGINT NOT NULL
);
