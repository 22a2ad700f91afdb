CREATE TABLE "Post" (id integer PRIMARY KEY, title text, published boolean NOT NULL DEFAULT false);
CREATE VIEW published AS SELECT id, title FROM "Post" WHERE published;
CREATE FUNCTION slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;
CREATE FUNCTION old_helper() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER post_touch BEFORE UPDATE ON "Post" FOR EACH ROW EXECUTE FUNCTION touch();
