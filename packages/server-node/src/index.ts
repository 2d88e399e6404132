export { RelayClient, ENV, paginate } from './client.js';
export type * from './client.js';
export { RelayError } from './errors.js';
export {
  EMPTY_BODY_SHA256,
  bodySha256,
  computeSignature,
  createMemoryNonceStore,
  newNonce,
  signRequest,
  stringToSign,
  verifyRequest,
} from './hmac.js';
export type { HeaderBag, NonceStore, SignedHeaders, VerifyFailure, VerifyResult } from './hmac.js';
export {
  CALLBACK_PATH,
  createWebhookHandler,
  expressWebhooks,
  readRawBody,
  toNodeHttp,
  verifyWebhook,
} from './webhooks.js';
export type * from './webhooks.js';
export {
  DeliveryStatus,
  MessageRole,
  OperatorRole,
  TicketPriority,
  TicketStatus,
  WEBHOOK_EVENT_TYPES,
  WebhookEventType,
} from './types.js';
export type * from './types.js';
