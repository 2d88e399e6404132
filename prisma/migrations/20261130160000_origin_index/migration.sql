-- The relay's CORS check of a request that names no tenant (a preflight) asks which tenants list
-- the request's origin in `allowed_origins`: without this index every preflight read every
-- organization, and an origin nobody lists (anyone can send one) cost the most.

-- CreateIndex
CREATE INDEX "organizations_allowed_origins_idx" ON "organizations" USING GIN ("allowed_origins");
