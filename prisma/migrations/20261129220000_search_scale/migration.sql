-- The agents' conversation search at scale (measured by the benchmark's data-scale step at 1M
-- messages: a common word took over a second, a visitor's surname a quarter of one): each part of
-- the search reads an index instead of every row of the tenant.

-- Name and external id "contains": trigram indexes on exactly the expressions the search compares.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- A common word ranks only the tenant's newest messages that hold it: the search reads them
-- through this index (id: a stable order among messages of the same millisecond, so a page's
-- candidates are the next page's too).
CREATE INDEX "messages_organization_id_created_at_id_idx" ON "messages"("organization_id", "created_at" DESC, "id" DESC);

CREATE INDEX "end_users_display_name_trgm_idx" ON "end_users" USING GIN (lower("display_name") gin_trgm_ops);
CREATE INDEX "end_users_external_id_trgm_idx" ON "end_users" USING GIN (lower("external_id") gin_trgm_ops);

-- A session's tags as one lowercase text, each tag after a comma (tags hold none): a session with
-- a tag starting with the needle holds ',' || needle, so this trigram index finds the candidates
-- and the search tests each of their tags exactly. IMMUTABLE (array_to_string is only STABLE, for
-- arrays of types whose text form depends on settings; text's does not), so it can be indexed.
CREATE FUNCTION "search_tags"(tags text[]) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ',' || lower(array_to_string(tags, ',')) $$;

CREATE INDEX "conversation_sessions_search_tags_idx" ON "conversation_sessions" USING GIN ("search_tags"("tags") gin_trgm_ops);

-- A common tag ranks the tenant's newest sessions holding it, read through this index.
CREATE INDEX "conversation_sessions_organization_id_created_at_id_idx" ON "conversation_sessions"("organization_id", "created_at" DESC, "id" DESC);

-- A common name ranks the tenant's newest visitors holding it, read through this index.
CREATE INDEX "end_users_organization_id_created_at_id_idx" ON "end_users"("organization_id", "created_at" DESC, "id" DESC);
