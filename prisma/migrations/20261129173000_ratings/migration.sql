-- Visitors' ratings of resolved support interactions: one per conversation session (rating again
-- updates it), counted in the console's usage.

-- CreateTable
CREATE TABLE "ratings" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "end_user_id" UUID NOT NULL,
    -- 1 to 5 stars.
    "score" INTEGER NOT NULL,
    "comment" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ratings_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ratings_score_check" CHECK ("score" BETWEEN 1 AND 5)
);

-- CreateIndex
CREATE UNIQUE INDEX "ratings_session_id_key" ON "ratings"("session_id");
-- CreateIndex
CREATE INDEX "ratings_organization_id_created_at_idx" ON "ratings"("organization_id", "created_at");
-- CreateIndex
CREATE INDEX "ratings_conversation_id_updated_at_idx" ON "ratings"("conversation_id", "updated_at" DESC);

-- AddForeignKey
ALTER TABLE "ratings" ADD CONSTRAINT "ratings_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- AddForeignKey
ALTER TABLE "ratings" ADD CONSTRAINT "ratings_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- AddForeignKey
ALTER TABLE "ratings" ADD CONSTRAINT "ratings_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "conversation_sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- AddForeignKey
ALTER TABLE "ratings" ADD CONSTRAINT "ratings_end_user_id_fkey" FOREIGN KEY ("end_user_id") REFERENCES "end_users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
