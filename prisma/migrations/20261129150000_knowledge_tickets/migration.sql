-- The bot's knowledge base (documents split into passages, searched with PostgreSQL full-text
-- search in each document's language), escalations and tickets, with their webhooks.

-- CreateTable
CREATE TABLE "knowledge_documents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    -- 'text' or 'markdown'.
    "format" TEXT NOT NULL DEFAULT 'text',
    "url" TEXT,
    "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    -- An ISO 639-1 code; it picks the text search configuration (stemming, stop words).
    "language" TEXT NOT NULL DEFAULT 'en',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "knowledge_documents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "knowledge_passages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "document_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "heading" TEXT,
    "content" TEXT NOT NULL,
    -- The title and heading (weight A) and the passage (weight B), in the document's configuration.
    "search" TSVECTOR NOT NULL,

    CONSTRAINT "knowledge_passages_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "knowledge_documents_organization_id_updated_at_idx" ON "knowledge_documents"("organization_id", "updated_at" DESC);
-- CreateIndex
CREATE UNIQUE INDEX "knowledge_passages_document_id_position_key" ON "knowledge_passages"("document_id", "position");
-- CreateIndex
CREATE INDEX "knowledge_passages_organization_id_idx" ON "knowledge_passages"("organization_id");
-- CreateIndex: full-text search.
CREATE INDEX "knowledge_passages_search_idx" ON "knowledge_passages" USING GIN ("search");

-- AddForeignKey
ALTER TABLE "knowledge_documents" ADD CONSTRAINT "knowledge_documents_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- AddForeignKey
ALTER TABLE "knowledge_passages" ADD CONSTRAINT "knowledge_passages_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "knowledge_documents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- CreateEnum
CREATE TYPE "TicketStatus" AS ENUM ('open', 'pending', 'resolved', 'closed');
-- CreateEnum
CREATE TYPE "TicketPriority" AS ENUM ('low', 'normal', 'high', 'urgent');

-- CreateTable
CREATE TABLE "tickets" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    -- 1, 2, 3, … per organization: what people say ("ticket #42").
    "number" INTEGER NOT NULL,
    "conversation_id" UUID,
    "subject" TEXT NOT NULL,
    "summary" TEXT NOT NULL DEFAULT '',
    "status" "TicketStatus" NOT NULL DEFAULT 'open',
    "priority" "TicketPriority" NOT NULL DEFAULT 'normal',
    "assignee_id" UUID,
    "routing_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(3),
    "closed_at" TIMESTAMPTZ(3),

    CONSTRAINT "tickets_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tickets_organization_id_number_key" ON "tickets"("organization_id", "number");
-- CreateIndex
CREATE INDEX "tickets_organization_id_status_updated_at_idx" ON "tickets"("organization_id", "status", "updated_at" DESC);
-- CreateIndex
CREATE INDEX "tickets_conversation_id_idx" ON "tickets"("conversation_id");

-- AddForeignKey
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- AddForeignKey
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE SET NULL ON UPDATE CASCADE;
-- AddForeignKey
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_assignee_id_fkey" FOREIGN KEY ("assignee_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AlterTable: the organization's last ticket number.
ALTER TABLE "organizations" ADD COLUMN "last_ticket_number" INTEGER NOT NULL DEFAULT 0;

-- AlterTable: why and when the conversation last went to the humans.
ALTER TABLE "conversations" ADD COLUMN "escalated_at" TIMESTAMPTZ(3);
ALTER TABLE "conversations" ADD COLUMN "escalation_reason" TEXT;
-- AlterTable: the bot's unanswered questions in a row (two escalate).
ALTER TABLE "conversations" ADD COLUMN "bot_misses" INTEGER NOT NULL DEFAULT 0;

-- A ticket as its webhooks show it.
CREATE FUNCTION "webhook_ticket"(t "tickets") RETURNS JSONB LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'ticket_id', t."id", 'number', t."number", 'conversation_id', t."conversation_id",
    'subject', t."subject", 'summary', t."summary", 'status', t."status", 'priority', t."priority",
    'routing_key', t."routing_key", 'assignee', "webhook_agent"(t."assignee_id"),
    'created_at', to_char(t."created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

-- Ticket events go in their conversation's order (a ticket without one: on their own).
CREATE FUNCTION "webhook_ticket_enqueue"(org UUID, conv UUID, kind TEXT, payload JSONB) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  IF conv IS NOT NULL THEN
    PERFORM "webhook_enqueue"(org, conv, kind, payload);
  ELSIF "webhook_wanted"(org, kind) THEN
    INSERT INTO "webhook_events" ("organization_id", "type", "data") VALUES (org, kind, payload);
  END IF;
END $$;

-- ticket-created, ticket-assigned (an assignee set or changed), ticket-resolved.
CREATE FUNCTION "webhook_tickets"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM "webhook_ticket_enqueue"(NEW."organization_id", NEW."conversation_id", 'ticket-created', "webhook_ticket"(NEW));
    IF NEW."assignee_id" IS NOT NULL THEN
      PERFORM "webhook_ticket_enqueue"(NEW."organization_id", NEW."conversation_id", 'ticket-assigned',
        "webhook_ticket"(NEW) || jsonb_build_object('previous_assignee', NULL));
    END IF;
    RETURN NULL;
  END IF;
  IF NEW."assignee_id" IS NOT NULL AND NEW."assignee_id" IS DISTINCT FROM OLD."assignee_id" THEN
    PERFORM "webhook_ticket_enqueue"(NEW."organization_id", NEW."conversation_id", 'ticket-assigned',
      "webhook_ticket"(NEW) || jsonb_build_object('previous_assignee', "webhook_agent"(OLD."assignee_id")));
  END IF;
  IF NEW."status" = 'resolved' AND OLD."status" <> 'resolved' THEN
    PERFORM "webhook_ticket_enqueue"(NEW."organization_id", NEW."conversation_id", 'ticket-resolved',
      "webhook_ticket"(NEW) || jsonb_build_object(
        'resolved_at', to_char(COALESCE(NEW."resolved_at", now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "webhook_tickets" AFTER INSERT OR UPDATE ON "tickets"
FOR EACH ROW EXECUTE FUNCTION "webhook_tickets"();

-- escalation-triggered: the conversation goes from the bot to the humans. Only a change of mode
-- runs the function (the WHEN clause), not the bump every message makes.
CREATE FUNCTION "webhook_escalations"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."mode" = 'human' AND OLD."mode" = 'bot' THEN
    PERFORM "webhook_enqueue"(NEW."organization_id", NEW."id", 'escalation-triggered',
      jsonb_build_object('conversation_id', NEW."id", 'reason', NEW."escalation_reason",
        'routing_key', NEW."routing_key",
        'escalated_at', to_char(COALESCE(NEW."escalated_at", now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "webhook_escalations" AFTER UPDATE OF "mode" ON "conversations"
FOR EACH ROW WHEN (OLD."mode" IS DISTINCT FROM NEW."mode") EXECUTE FUNCTION "webhook_escalations"();
