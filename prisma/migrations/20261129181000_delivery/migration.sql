-- Delivery state, compactly: per conversation and per side, the highest message seq that side's
-- clients acknowledged receiving. A message of the other side with a seq at or below it is
-- delivered. Written by a batcher (at most once per conversation and side per flush interval),
-- and only when the value grows.

-- AlterTable
ALTER TABLE "conversations" ADD COLUMN "agent_delivered_seq" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "visitor_delivered_seq" INTEGER NOT NULL DEFAULT 0;
