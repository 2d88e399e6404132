-- The agents' conversation search: messages' text indexed for full-text search. Stemmed in
-- English ("refunds" finds "refund") and also word for word in the `simple` configuration, so
-- text in any other language, and English stop words, still match (as prefixes too: "refu"
-- finds "refund"). An index on the expression: no column to keep in step, nothing for Prisma to
-- know; the search's queries repeat this expression exactly so the planner can use it.

-- CreateIndex: full-text search over messages.
CREATE INDEX "messages_search_idx" ON "messages" USING GIN (
  (to_tsvector('english'::regconfig, "content") || to_tsvector('simple'::regconfig, "content"))
);
