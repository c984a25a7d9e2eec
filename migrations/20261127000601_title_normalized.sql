-- Canonical job titles (actors/src/normalize/titles.rs): `title_normalized` holds the
-- normalised form of `title`, filled by writers (imports, events) with the same Rust function
-- the planner applies to `title_normalized` filter values, and by the daemon's backfill for
-- rows written without it. Changing `title` without setting `title_normalized` clears it, so
-- a stale canonical title never survives an update; the backfill fills it again.

ALTER TABLE contacts ADD COLUMN title_normalized text;

CREATE INDEX contacts_title_normalized_idx  ON contacts (title_normalized);
CREATE INDEX contacts_title_normalized_trgm ON contacts USING gin (title_normalized gin_trgm_ops);
-- What the backfill looks for.
CREATE INDEX contacts_title_unnormalized_idx ON contacts (uuid)
    WHERE title IS NOT NULL AND title_normalized IS NULL;

CREATE FUNCTION rolodex_title_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title IS DISTINCT FROM OLD.title
       AND NEW.title_normalized IS NOT DISTINCT FROM OLD.title_normalized THEN
        NEW.title_normalized := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER contacts_title_changed BEFORE UPDATE OF title ON contacts
    FOR EACH ROW EXECUTE FUNCTION rolodex_title_changed();
