-- Versioned tombstones for event ingestion (DESIGN §4, Events): a delete records the version it
-- carried, so a late upsert with an older (or equal) version cannot bring the row back. An
-- upsert newer than the tombstone re-creates the entity; the tombstone stays (it is harmless:
-- only versions above it pass).
CREATE TABLE tombstones (
    kind       text        NOT NULL CHECK (kind IN ('contact', 'company')),
    uuid       uuid        NOT NULL,
    version    bigint      NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, uuid)
);
