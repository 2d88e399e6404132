-- Verified end-user identity: an identity mode per organization (and per channel, overriding),
-- the previous tenant secret kept for a grace period after a rotation, and when an end user was
-- first verified (from then on every request for them needs the hash).

-- CreateEnum
CREATE TYPE "IdentityMode" AS ENUM ('anonymous', 'verified', 'off');

-- AlterTable
ALTER TABLE "organizations" ADD COLUMN "tenant_secret_prev_enc" TEXT,
ADD COLUMN "tenant_secret_prev_until" TIMESTAMPTZ(3),
ADD COLUMN "identity_mode" "IdentityMode" NOT NULL DEFAULT 'verified';

-- AlterTable
ALTER TABLE "channels" ADD COLUMN "identity_mode" "IdentityMode";

-- AlterTable
ALTER TABLE "end_users" ADD COLUMN "verified_at" TIMESTAMPTZ(3);
