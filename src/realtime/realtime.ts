import type { Server as HttpServer } from 'node:http';
import type { RequestHandler } from 'express';
import { Server } from 'socket.io';
import type { Services } from '../app.js';
import type { Config } from '../config.js';
import type { EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';

export type RealtimeDeps = {
  server: HttpServer;
  sessionMiddleware: RequestHandler;
  services: Services;
  bus: EventBus;
  redis?: Redis | undefined;
  config: Config;
  logger: Logger;
};

/** The Socket.IO gateway on the app's HTTP server. */
export async function createRealtime(
  deps: RealtimeDeps,
): Promise<{ io: Server; close: () => Promise<void> }> {
  const io = new Server(deps.server);
  io.engine.use(deps.sessionMiddleware);
  return {
    io,
    close: () => new Promise<void>((resolve) => void io.close(() => resolve())),
  };
}
