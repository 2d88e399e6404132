-- Internal notes (messages only agents see) and canned replies.

-- AlterTable: a note is a message marked internal. It is numbered like any message (one `seq` per
-- conversation, so agents' clients keep one order), but no end-user path ever reads it.
ALTER TABLE "messages" ADD COLUMN "internal" BOOLEAN NOT NULL DEFAULT false;

-- A note is not conversation activity the visitor could see: it takes its number, but leaves the
-- conversation's last message time (the visitor-facing "last message") as it was.
CREATE OR REPLACE FUNCTION "messages_assign_seq"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "conversations"
  SET "last_seq" = "last_seq" + 1,
      "updated_at" = GREATEST("updated_at", NEW."created_at"),
      "last_message_at" = CASE WHEN NEW."internal" THEN "last_message_at"
                               ELSE GREATEST("last_message_at", NEW."created_at") END
  WHERE "id" = NEW."conversation_id"
  RETURNING "last_seq" INTO NEW."seq";
  RETURN NEW;
END $$;

-- message-received: every stored message except notes, which stay inside the inbox (the webhooks
-- migration's function, with `NOT n."internal"`).
CREATE OR REPLACE FUNCTION "webhook_messages"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "webhook_events" ("organization_id", "conversation_id", "type", "data")
  SELECT n."organization_id", n."conversation_id", 'message-received',
    jsonb_build_object(
      'conversation_id', n."conversation_id",
      'session_id', n."session_id",
      'message', jsonb_build_object(
        'id', n."id",
        'seq', n."seq",
        'role', CASE n."sender_type" WHEN 'end_user' THEN 'visitor' ELSE n."sender_type"::text END,
        'sender_id', n."sender_id",
        'content_type', n."content_type",
        'content', n."content",
        'rich_media', n."rich_media",
        'created_at', to_char(n."created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
  FROM new_messages n
  WHERE NOT n."internal" AND "webhook_wanted"(n."organization_id", 'message-received')
  ORDER BY n."conversation_id", n."seq";
  RETURN NULL;
END $$;

-- CreateTable: canned replies, the tenant's (owner_id null, admins manage them) and each agent's own.
CREATE TABLE "canned_replies" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "owner_id" UUID,
    "shortcut" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "canned_replies_pkey" PRIMARY KEY ("id")
);

-- CreateIndex: a shortcut once per scope (the tenant's: owner null, so NULLS NOT DISTINCT).
CREATE UNIQUE INDEX "canned_replies_organization_id_owner_id_shortcut_key" ON "canned_replies"("organization_id", "owner_id", "shortcut") NULLS NOT DISTINCT;

-- AddForeignKey
ALTER TABLE "canned_replies" ADD CONSTRAINT "canned_replies_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "canned_replies" ADD CONSTRAINT "canned_replies_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
