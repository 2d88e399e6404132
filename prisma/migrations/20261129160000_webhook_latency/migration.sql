-- The latency of a webhook's last attempt, on the event itself: the delivery log shows it per row
-- without reading every row's attempts.

-- AlterTable
ALTER TABLE "webhook_events" ADD COLUMN "last_latency_ms" INTEGER;
