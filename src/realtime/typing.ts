/**
 * Who is typing where, on this node. An indicator ends (`onClear`) when the typist sends a
 * message, goes silent for `timeoutMs`, or disconnects. Typists are keyed by
 * `{sender_type}:{sender id}` so the message that ends an indicator can be matched to it.
 * Keystrokes are coalesced: an indicator is relayed when it starts and then at most once per
 * `relayIntervalMs` while it lasts.
 */
export function createTypingTracker({
  timeoutMs,
  relayIntervalMs = 0,
  onClear,
  onRelay,
}: {
  timeoutMs: number;
  relayIntervalMs?: number;
  onClear: (conversationId: string, typist: string) => void;
  /** An indicator is relayed (the relay WebSocket's visitors hear of it too). */
  onRelay?: (conversationId: string, typist: string) => void;
}) {
  type Entry = { timer: NodeJS.Timeout; socketId: string; relayedAt: number };
  const byConversation = new Map<string, Map<string, Entry>>();

  function stop(conversationId: string, typist: string) {
    const typists = byConversation.get(conversationId);
    const entry = typists?.get(typist);
    if (!typists || !entry) return;
    clearTimeout(entry.timer);
    typists.delete(typist);
    if (!typists.size) byConversation.delete(conversationId);
    onClear(conversationId, typist);
  }

  return {
    /** Starts or prolongs an indicator; true when it is to be relayed now (see above). */
    touch(conversationId: string, typist: string, socketId: string): boolean {
      let typists = byConversation.get(conversationId);
      if (!typists) byConversation.set(conversationId, (typists = new Map()));
      const prev = typists.get(typist);
      if (prev) clearTimeout(prev.timer);
      const timer = setTimeout(() => stop(conversationId, typist), timeoutMs);
      timer.unref();
      const now = Date.now();
      const relay = !prev || now - prev.relayedAt >= relayIntervalMs;
      typists.set(typist, { timer, socketId, relayedAt: relay ? now : prev.relayedAt });
      if (relay) onRelay?.(conversationId, typist);
      return relay;
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
