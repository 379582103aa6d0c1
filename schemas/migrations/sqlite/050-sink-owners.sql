-- Fencing for the streaming jobs: whoever takes over a (consumer, stream, partition) claims the
-- next generation, and a write that names an older one is refused in its own transaction, so a member
-- that lost its partitions without noticing (a stall past the session timeout) cannot commit for them.
CREATE TABLE IF NOT EXISTS sink_owners (
    consumer                 TEXT    NOT NULL,
    stream                   TEXT    NOT NULL,
    stream_partition         INTEGER NOT NULL,
    generation               INTEGER NOT NULL,
    claimed_at               TEXT    NOT NULL,
    PRIMARY KEY (consumer, stream, stream_partition)
);
