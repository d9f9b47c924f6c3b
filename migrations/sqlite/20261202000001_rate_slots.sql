-- One rate limit per connection across processes (SECURITY P3): the time
-- of a connection's next free request slot, which every worker and
-- replica reserves its requests from, a short run at a time.
CREATE TABLE rate_slots (
    slot_key   TEXT   PRIMARY KEY, -- team id and provider (and bucket), `/`-joined
    next_at_ms BIGINT NOT NULL     -- Unix milliseconds of the next free slot
);

-- Requests a connection spent on a UTC day, counted by their cost, for a
-- provider's daily cap; shared like the slots.
CREATE TABLE rate_days (
    slot_key TEXT   NOT NULL,
    day      TEXT   NOT NULL, -- 2026-12-02
    spent    BIGINT NOT NULL,
    PRIMARY KEY (slot_key, day)
);
