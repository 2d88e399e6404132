-- Signed webhooks to the tenant's backend. An event row is written by a trigger of the change that
-- causes it, in the same transaction, whatever the path (batched messages, a single send, a claim,
-- a release, a resolve): committed change, committed event; rolled back, neither. Workers on every
-- node deliver them (FOR UPDATE SKIP LOCKED), one conversation's in order, and keep every attempt.

-- AlterTable: the tenant's callback base URL (null: no webhooks) and the events it wants (empty: all).
ALTER TABLE "organizations" ADD COLUMN "webhook_url" TEXT;
ALTER TABLE "organizations" ADD COLUMN "webhook_events" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateEnum
CREATE TYPE "WebhookStatus" AS ENUM ('pending', 'delivered', 'failed');

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "conversation_id" UUID,
    -- Commit order within a conversation (taken under the conversation's row lock).
    "position" BIGINT GENERATED ALWAYS AS IDENTITY,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "status" "WebhookStatus" NOT NULL DEFAULT 'pending',
    -- Attempts of the current round (back-off, giving up); a redelivery starts a new round.
    "attempts" INTEGER NOT NULL DEFAULT 0,
    -- Attempts ever made (the attempt log's numbering).
    "total_attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_attempts" (
    "id" BIGINT GENERATED ALWAYS AS IDENTITY,
    "event_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "status_code" INTEGER,
    "ok" BOOLEAN NOT NULL,
    "error" TEXT,
    "latency_ms" INTEGER NOT NULL,
    "response_excerpt" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex: what the workers claim.
CREATE INDEX "webhook_events_due_idx" ON "webhook_events"("next_attempt_at") WHERE "status" = 'pending';
-- CreateIndex: a conversation's undelivered events, in order (the head goes first).
CREATE INDEX "webhook_events_pending_conversation_idx" ON "webhook_events"("conversation_id", "position") WHERE "status" = 'pending';
-- CreateIndex: the tenant's delivery log, newest first.
CREATE INDEX "webhook_events_organization_id_created_at_idx" ON "webhook_events"("organization_id", "created_at" DESC, "id" DESC);
-- CreateIndex
CREATE INDEX "webhook_attempts_event_id_idx" ON "webhook_attempts"("event_id", "attempt");

-- AddForeignKey
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "webhook_events"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Whether the organization takes this event: a callback URL, and the event among those chosen.
CREATE FUNCTION "webhook_wanted"(org UUID, kind TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM "organizations"
                 WHERE "id" = org AND "webhook_url" IS NOT NULL
                   AND (cardinality("webhook_events") = 0 OR kind = ANY ("webhook_events")))
$$;

-- An agent as the events show them.
CREATE FUNCTION "webhook_agent"(agent UUID) RETURNS JSONB LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', u."id", 'external_id', u."external_id", 'display_name', u."display_name")
  FROM "users" u WHERE u."id" = agent
$$;

-- Queues one event of a conversation. The conversation's row lock is taken before the event gets
-- its position, so a conversation's events are numbered in the order their transactions commit.
CREATE FUNCTION "webhook_enqueue"(org UUID, conv UUID, kind TEXT, payload JSONB) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  IF NOT "webhook_wanted"(org, kind) THEN RETURN; END IF;
  PERFORM 1 FROM "conversations" WHERE "id" = conv FOR NO KEY UPDATE;
  INSERT INTO "webhook_events" ("organization_id", "conversation_id", "type", "data")
  VALUES (org, conv, kind, payload);
END $$;

-- message-received: every stored message. Statement-level: a batch of messages costs one probe per
-- organization when webhooks are off, and one insert when they are on.
CREATE FUNCTION "webhook_messages"() RETURNS trigger LANGUAGE plpgsql AS $$
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
  WHERE "webhook_wanted"(n."organization_id", 'message-received')
  ORDER BY n."conversation_id", n."seq";
  RETURN NULL;
END $$;

CREATE TRIGGER "webhook_messages" AFTER INSERT ON "messages"
REFERENCING NEW TABLE AS new_messages
FOR EACH STATEMENT EXECUTE FUNCTION "webhook_messages"();

-- conversation-started (a session opens: the conversation's first message, or the first after a
-- resolve), agent-assigned (a claim, a transfer, an agent writing first), agent-released,
-- agent-resolved.
CREATE FUNCTION "webhook_sessions"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  base JSONB := jsonb_build_object('conversation_id', NEW."conversation_id", 'session_id', NEW."id");
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF "webhook_wanted"(NEW."organization_id", 'conversation-started') THEN
      PERFORM "webhook_enqueue"(NEW."organization_id", NEW."conversation_id", 'conversation-started',
        base || (SELECT jsonb_build_object(
          'visitor_user_id', e."external_id",
          'visitor_display_name', e."display_name",
          'channel_id', c."channel_id",
          'routing_key', c."routing_key",
          'locale', c."locale",
          'metadata', c."metadata",
          'reopened', EXISTS (SELECT 1 FROM "conversation_sessions" s
                              WHERE s."conversation_id" = NEW."conversation_id" AND s."id" <> NEW."id"))
          FROM "conversations" c JOIN "end_users" e ON e."id" = c."end_user_id"
          WHERE c."id" = NEW."conversation_id"));
    END IF;
    IF NEW."assigned_agent_id" IS NOT NULL THEN
      PERFORM "webhook_enqueue"(NEW."organization_id", NEW."conversation_id", 'agent-assigned',
        base || jsonb_build_object('agent', "webhook_agent"(NEW."assigned_agent_id"), 'previous_agent', NULL));
    END IF;
    RETURN NULL;
  END IF;
  IF NEW."status" = 'resolved' AND OLD."status" <> 'resolved' THEN
    PERFORM "webhook_enqueue"(NEW."organization_id", NEW."conversation_id", 'agent-resolved',
      base || jsonb_build_object(
        'agent', "webhook_agent"(COALESCE(NEW."assigned_agent_id", OLD."assigned_agent_id")),
        'resolved_at', to_char(COALESCE(NEW."resolved_at", now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
  ELSIF NEW."assigned_agent_id" IS NOT NULL AND NEW."assigned_agent_id" IS DISTINCT FROM OLD."assigned_agent_id" THEN
    PERFORM "webhook_enqueue"(NEW."organization_id", NEW."conversation_id", 'agent-assigned',
      base || jsonb_build_object('agent', "webhook_agent"(NEW."assigned_agent_id"),
                                 'previous_agent', "webhook_agent"(OLD."assigned_agent_id")));
  ELSIF NEW."assigned_agent_id" IS NULL AND OLD."assigned_agent_id" IS NOT NULL THEN
    PERFORM "webhook_enqueue"(NEW."organization_id", NEW."conversation_id", 'agent-released',
      base || jsonb_build_object('agent', "webhook_agent"(OLD."assigned_agent_id")));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "webhook_sessions" AFTER INSERT OR UPDATE ON "conversation_sessions"
FOR EACH ROW EXECUTE FUNCTION "webhook_sessions"();
