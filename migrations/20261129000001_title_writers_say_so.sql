-- Rolodex's own writers (events, imports) write `title_normalized` with every `title`, and
-- say so for their transaction with `rolodex.title_normalized_written`. Before this, a new
-- title with the same canonical form as the old one (`VP Sales` to `VP, Sales`) looked to the
-- trigger like a title changed without its canonical form, and the row lost it until the
-- next backfill. Other writers are handled as before: a changed title without a changed
-- `title_normalized` clears it.

CREATE OR REPLACE FUNCTION rolodex_title_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rolodex.title_normalized_written', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.title IS DISTINCT FROM OLD.title
       AND NEW.title_normalized IS NOT DISTINCT FROM OLD.title_normalized THEN
        NEW.title_normalized := NULL;
    END IF;
    RETURN NEW;
END $$;
