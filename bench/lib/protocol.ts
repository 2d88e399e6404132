// The messages the harness and its load-generator processes exchange over IPC.

export type VisitorPlan = {
  conversationId: string;
  externalId: string;
  url: string;
  agent: number;
  /** A new conversation: hello, then the agent claims it. Else already open and assigned. */
  fresh: boolean;
  /** The loopback address it connects from (`visitorAddress`); none: the system's choice. */
  localAddress?: string;
};
export type AgentPlan = { index: number; userId: string; cookie: string; url: string };

export type WorkerPlan = {
  workerId: number;
  /** Makes this run's message ids unique in the database. */
  runTag: string;
  visitors: VisitorPlan[];
  agents: AgentPlan[];
  /** `--inbox-reloads`: each agent reads its list again as the inbox does (see loadgen.worker.ts). */
  inboxReloads?: boolean;
  /** The filter the inbox shows (`--inbox-filter`; unassigned when absent). */
  inboxFilter?: 'unassigned' | 'mine';
  /** `--read-receipts`: each message's receiver marks it read on arrival (see loadgen.worker.ts). */
  readReceipts?: boolean;
};

export type Command =
  | { type: 'init'; plan: WorkerPlan }
  /** Connects agents (join_queue), then visitors over `rampMs`; each visitor says hello and is claimed. */
  | { type: 'connect'; rampMs: number; timeoutMs: number }
  /**
   * Open loop: sends at `rate` messages/s. Closed loop: keeps `inFlight` messages outstanding,
   * sending the next as one is delivered (the most the server sustains). For `durationMs`
   * (per-second buckets count from `startWall`), then waits up to `drainMs` and reports.
   */
  | {
      type: 'load';
      mode: 'open' | 'closed';
      rate: number;
      inFlight: number;
      durationMs: number;
      startWall: number;
      drainMs: number;
    }
  /** Starts watching for every socket to drop and come back (a server restart). */
  | { type: 'watch-reconnect'; timeoutMs: number }
  | { type: 'close' };

export type ConnectReport = {
  type: 'connected';
  visitors: number;
  agents: number;
  claimed: number;
  failed: number;
  errors: string[];
  ms: number;
};

export type LoadReport = {
  type: 'drained';
  /** Messages emitted during the load phase, by sender kind. */
  sent: number;
  /** Deliveries to the other party of the conversation (the one that did not send). */
  delivered: number;
  lost: number;
  duplicated: number;
  /** Sender echo deliveries (the room includes the sender), for information. */
  echoes: number;
  /** Queue-room events received by agents during the load phase. */
  queueEvents: number;
  /** Sender emit → receiver event, ms, one clock (sender and receiver live in this process). */
  latencies: number[];
  /** The second of the load phase each of `latencies`' messages was sent in. */
  sentSecond: number[];
  /** Wall clock of the last delivery. */
  lastWall: number;
  /** Per second of the load phase: [sent, delivered]. */
  timeline: [number, number][];
  /** Per second of the phase and its drain: this process's longest event-loop stall, ms. */
  loopMaxBySecond: number[];
  errors: string[];
  /** client_msg_ids sent, so the harness can check what reached the database. */
  prefix: string;
  /** `--inbox-reloads`: list reloads during the phase (two or four requests each), those that failed, and each one's time, ms. */
  reloads: { done: number; failed: number; ms: number[] };
  /** `--read-receipts`: `mark_read` sent during the phase. */
  reads: number;
};

export type ReconnectReport = {
  type: 'reconnected';
  /** Wall clock when every socket was back and had rejoined its rooms; null on timeout. */
  doneWall: number | null;
  dropped: number;
  back: number;
  /** Wall clock when each socket was back, in order (how the return is spread, not only its end). */
  backWalls: number[];
};

export type Report = ConnectReport | LoadReport | ReconnectReport | { type: 'ready' } | { type: 'closed' };
