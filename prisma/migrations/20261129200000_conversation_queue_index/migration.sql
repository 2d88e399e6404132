-- The inbox list of one queue (`routing_key`), and the list of an agent restricted to their
-- queues, newest first, with its total: without this index both read every conversation of the
-- organization (measured by the benchmark's data-scale step: the count of one queue at 1M messages
-- went from about 50 ms to 1 ms).

-- CreateIndex
CREATE INDEX "conversations_organization_id_routing_key_updated_at_idx" ON "conversations"("organization_id", "routing_key", "updated_at" DESC);
