-- CreateEnum
CREATE TYPE "PushJobStatus" AS ENUM ('pending', 'sent', 'failed');

-- CreateTable
CREATE TABLE "push_jobs" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "device_token_id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "message_id" UUID NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "PushJobStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "push_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "push_jobs_status_next_attempt_at_idx" ON "push_jobs"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "push_jobs_device_token_id_idx" ON "push_jobs"("device_token_id");

-- CreateIndex
CREATE UNIQUE INDEX "push_jobs_message_id_device_token_id_key" ON "push_jobs"("message_id", "device_token_id");

-- AddForeignKey
ALTER TABLE "push_jobs" ADD CONSTRAINT "push_jobs_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "push_jobs" ADD CONSTRAINT "push_jobs_device_token_id_fkey" FOREIGN KEY ("device_token_id") REFERENCES "device_tokens"("id") ON DELETE CASCADE ON UPDATE CASCADE;
