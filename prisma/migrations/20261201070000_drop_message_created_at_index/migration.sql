-- Messages are read by their number in the conversation (`seq`: history pages, the last message,
-- what was missed), never by `(conversation_id, created_at)`: that index only cost every insert
-- one more index entry (one of the seven a message wrote, 1 of about 18 WAL records) and 40 MB
-- per million messages.

-- DropIndex
DROP INDEX IF EXISTS "messages_conversation_id_created_at_idx";
