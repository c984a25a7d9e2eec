-- The data model of DESIGN §5: companies, contacts and their metadata, with every index the
-- planner relies on. `text_search` is derived (lower-cased searchable text) so no writer can
-- forget it; `version` is the per-entity event version (DESIGN §4, Events).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- array_to_string is only STABLE; generated columns need an IMMUTABLE expression.
CREATE FUNCTION rolodex_join_words(text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_to_string($1, ' '), '') $$;

CREATE TABLE companies (
    uuid            uuid PRIMARY KEY,
    name            text,
    employees_count integer,
    annual_revenue  bigint,
    industries      text[] NOT NULL DEFAULT '{}',
    keywords        text[] NOT NULL DEFAULT '{}',
    technologies    text[] NOT NULL DEFAULT '{}',
    text_search     text GENERATED ALWAYS AS (
        lower(coalesce(name, '') || ' ' || rolodex_join_words(industries) || ' ' || rolodex_join_words(keywords))
    ) STORED,
    version         bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    uuid          uuid PRIMARY KEY,
    first_name    text,
    last_name     text,
    email         text,
    title         text,
    seniority     text,
    departments   text[] NOT NULL DEFAULT '{}',
    mobile_phone  text,
    email_status  text,
    company_id    uuid,
    text_search   text GENERATED ALWAYS AS (
        lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(title, '') || ' ' || coalesce(email, ''))
    ) STORED,
    version       bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts_metadata (
    uuid         uuid PRIMARY KEY,
    linkedin_url text,
    city         text,
    state        text,
    country      text,
    website      text,
    facebook_url text,
    twitter_url  text
);

CREATE TABLE companies_metadata (
    uuid         uuid PRIMARY KEY,
    website      text,
    linkedin_url text,
    city         text,
    state        text,
    country      text,
    phone        text,
    founded_year integer
);

-- Contacts: B-tree on names and email (lower-case: the planner compares text that way),
-- the company link, the default order; GIN on the array; trigram GIN for contains; composites.
CREATE INDEX contacts_created_at_idx     ON contacts (created_at DESC, uuid DESC);
CREATE INDEX contacts_updated_at_idx     ON contacts (updated_at);
CREATE INDEX contacts_email_idx          ON contacts (lower(email));
CREATE INDEX contacts_first_name_idx     ON contacts (lower(first_name));
CREATE INDEX contacts_last_name_idx      ON contacts (lower(last_name));
CREATE INDEX contacts_company_id_idx     ON contacts (company_id);
CREATE INDEX contacts_email_company_idx  ON contacts (lower(email), company_id);
CREATE INDEX contacts_seniority_company_idx ON contacts (seniority, company_id);
CREATE INDEX contacts_departments_gin    ON contacts USING gin (departments);
CREATE INDEX contacts_title_trgm         ON contacts USING gin (title gin_trgm_ops);
CREATE INDEX contacts_first_name_trgm    ON contacts USING gin (first_name gin_trgm_ops);
CREATE INDEX contacts_last_name_trgm     ON contacts USING gin (last_name gin_trgm_ops);
CREATE INDEX contacts_text_search_trgm   ON contacts USING gin (text_search gin_trgm_ops);

-- Companies.
CREATE INDEX companies_created_at_idx    ON companies (created_at DESC, uuid DESC);
CREATE INDEX companies_updated_at_idx    ON companies (updated_at);
CREATE INDEX companies_name_idx          ON companies (lower(name));
CREATE INDEX companies_employees_idx     ON companies (employees_count);
CREATE INDEX companies_revenue_idx       ON companies (annual_revenue);
CREATE INDEX companies_industries_gin    ON companies USING gin (industries);
CREATE INDEX companies_keywords_gin      ON companies USING gin (keywords);
CREATE INDEX companies_technologies_gin  ON companies USING gin (technologies);
CREATE INDEX companies_name_trgm         ON companies USING gin (name gin_trgm_ops);
CREATE INDEX companies_text_search_trgm  ON companies USING gin (text_search gin_trgm_ops);

-- Metadata: looked up by uuid (the primary key) and filtered by place.
CREATE INDEX contacts_metadata_country_idx  ON contacts_metadata (lower(country));
CREATE INDEX companies_metadata_country_idx ON companies_metadata (lower(country));
