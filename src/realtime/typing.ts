/**
 * Who is typing where, on this node. An indicator ends (`onClear`) when the typist sends a
 * message, goes silent for `timeoutMs`, or disconnects. Typists are keyed by
 * `{sender_type}:{sender id}` so the message that ends an indicator can be matched to it.
 */
export function createTypingTracker({
  timeoutMs,
  onClear,
}: {
  timeoutMs: number;
  onClear: (conversationId: string) => void;
}) {
  type Entry = { timer: NodeJS.Timeout; socketId: string };
  const byConversation = new Map<string, Map<string, Entry>>();

  function stop(conversationId: string, typist: string) {
    const typists = byConversation.get(conversationId);
    const entry = typists?.get(typist);
    if (!typists || !entry) return;
    clearTimeout(entry.timer);
    typists.delete(typist);
    if (!typists.size) byConversation.delete(conversationId);
    onClear(conversationId);
  }

  return {
    /** Starts or prolongs an indicator. */
    touch(conversationId: string, typist: string, socketId: string) {
      let typists = byConversation.get(conversationId);
      if (!typists) byConversation.set(conversationId, (typists = new Map()));
      const prev = typists.get(typist);
      if (prev) clearTimeout(prev.timer);
      const timer = setTimeout(() => stop(conversationId, typist), timeoutMs);
      timer.unref();
      typists.set(typist, { timer, socketId });
    },
    stop,
    /** A socket went away: its indicators end. */
    dropSocket(socketId: string) {
      for (const [conversationId, typists] of [...byConversation]) {
        for (const [typist, entry] of [...typists]) {
          if (entry.socketId === socketId) stop(conversationId, typist);
        }
      }
    },
    close() {
      for (const typists of byConversation.values()) for (const e of typists.values()) clearTimeout(e.timer);
      byConversation.clear();
    },
  };
}

export type TypingTracker = ReturnType<typeof createTypingTracker>;

export const typistKey = (senderType: string, senderId: string) => `${senderType}:${senderId}`;
