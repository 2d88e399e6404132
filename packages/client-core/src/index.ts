export { ChatClient } from './chat-client.js';
export type {
  AttachmentBody,
  ChatClientOptions,
  CreateSessionParams,
  IdentifyParams,
  Rating,
  RatingParams,
  TenantParams,
  UploadOptions,
  VisitorContact,
} from './chat-client.js';
export { ChatApiError } from './errors.js';
export { backoffDelay, CloseCode, WSClient } from './ws-client.js';
export type {
  ConnectionState,
  SendInput,
  WebSocketConstructor,
  WebSocketLike,
  WSClientHandlers,
  WSClientOptions,
} from './ws-client.js';
export type * from './types.js';
