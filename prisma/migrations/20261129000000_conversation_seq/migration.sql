-- Messages are numbered per conversation (1, 2, 3, … in commit order) so that a client can tell
-- that it missed one and ask for the range. A trigger assigns the number on every insert, whatever
-- the path, under the conversation's row lock: a later number is never committed before an earlier
-- one of the same conversation.

-- AlterTable
ALTER TABLE "conversations" ADD COLUMN "last_seq" INTEGER NOT NULL DEFAULT 0;

-- The global sequence becomes a per-conversation number.
DROP INDEX "messages_seq_key";
DROP INDEX "messages_conversation_id_seq_idx";
ALTER TABLE "messages" ALTER COLUMN "seq" DROP DEFAULT;
DROP SEQUENCE IF EXISTS "messages_seq_seq";
UPDATE "messages" m SET "seq" = r.n
FROM (SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY seq) AS n FROM "messages") r
WHERE m.id = r.id;
ALTER TABLE "messages" ALTER COLUMN "seq" TYPE INTEGER, ALTER COLUMN "seq" SET DEFAULT 0;
UPDATE "conversations" c SET "last_seq" = x.n
FROM (SELECT conversation_id, max(seq) AS n FROM "messages" GROUP BY conversation_id) x
WHERE c.id = x.conversation_id;

-- CreateIndex
CREATE UNIQUE INDEX "messages_conversation_id_seq_key" ON "messages"("conversation_id", "seq");

-- The number, and the conversation's activity times, are set by the insert itself.
CREATE FUNCTION "messages_assign_seq"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "conversations"
  SET "last_seq" = "last_seq" + 1,
      "updated_at" = GREATEST("updated_at", NEW."created_at"),
      "last_message_at" = GREATEST("last_message_at", NEW."created_at")
  WHERE "id" = NEW."conversation_id"
  RETURNING "last_seq" INTO NEW."seq";
  RETURN NEW;
END $$;

CREATE TRIGGER "messages_assign_seq" BEFORE INSERT ON "messages"
FOR EACH ROW EXECUTE FUNCTION "messages_assign_seq"();
