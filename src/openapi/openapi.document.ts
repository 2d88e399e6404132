import { z, type ZodType } from 'zod';
import { SESSION_COOKIE } from '../shared/auth/session.js';
import type { Envelope } from '../relay/relay.envelope.js';
import { adminOperations } from './operations.admin.js';
import { agentOperations } from './operations.agent.js';
import { publicOperations } from './operations.public.js';
import { relayOperations } from './operations.relay.js';
import type { Operation, Security } from './openapi.registry.js';

type Json = Record<string, unknown>;

/** Every documented operation: the agent API, the public widget/mobile endpoints, the relay. */
export const operations: Operation[] = [
  ...agentOperations,
  ...adminOperations,
  ...publicOperations,
  ...relayOperations,
  { method: 'get', path: '/api/openapi.json', tag: 'meta', summary: 'This document', security: 'none' },
];

// The answers' outer shapes. They are typed against the TypeScript types the routes send with,
// so a change there fails to compile here.
const errorSchema = z
  .looseObject({
    error: z.string().describe('Stable code, such as `request/invalid` or `conversation/not_found`'),
    message: z.string(),
    param: z.string().optional().describe('The offending parameter of a `request/invalid`'),
    retry_after: z.number().optional().describe('Seconds to wait (with `Retry-After`)'),
  })
  .describe('Every error of the agent API and the public endpoints');
const envelopeSchema = z
  .object({ status_code: z.int(), data: z.unknown(), message: z.string() })
  .describe('Every answer of `/api/v1/*`: the HTTP status equals `status_code`') satisfies ZodType<
  Envelope<unknown>
>;
const envelopeErrorSchema = z
  .looseObject({
    status_code: z.int(),
    data: z.null(),
    message: z.string(),
    error: z.string().describe('Stable code, such as `request/invalid` or `hmac/invalid`'),
    param: z.string().optional(),
    retry_after: z.number().optional(),
  })
  .describe('A relay error, in the envelope');

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect): what a client sends or receives. */
export function toJsonSchema(schema: ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // Transforms and custom checks have no JSON Schema: they document as "anything" there.
    unrepresentable: 'any',
  }) as Json;
  delete json.$schema;
  if (JSON.stringify(json).includes('"#/$defs/') || json.$defs) {
    // A local reference would resolve against the whole document in OpenAPI.
    throw new Error('A schema with $defs cannot be embedded; give it an id in the components instead');
  }
  return json;
}

const securitySchemes = {
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The agent session, set by `POST /auth/login`.',
  },
  csrf: {
    type: 'apiKey',
    in: 'header',
    name: 'X-CSRFToken',
    description:
      "The session's CSRF token (`csrf_token` of `/auth/me` or the login answer), on every state-changing call.",
  },
  adminKey: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Admin-Key',
    description: "The deployment's `ADMIN_KEY` (tenant provisioning).",
  },
  ...Object.fromEntries(
    (
      [
        ['hmacTenant', 'X-Relay-Tenant', 'your `tenant_id`'],
        ['hmacTimestamp', 'X-Relay-Timestamp', 'the time of signing, unix seconds'],
        ['hmacNonce', 'X-Relay-Nonce', 'a fresh random string per request: 16–64 of `A-Z a-z 0-9 _ -`'],
        ['hmacSignature', 'X-Relay-Signature', '`v1=` and the HMAC-SHA256, 64 lower-case hex digits'],
      ] as const
    ).map(([id, name, what]) => [
      id,
      {
        type: 'apiKey',
        in: 'header',
        name,
        description: `HMAC#1 (docs/hmac.md), sent with the other three \`X-Relay-*\` headers: ${what}.`,
      },
    ]),
  ),
  visitorToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'The visitor token of `/api/v1/create/visitor-session` (or of the backend, `relay/visitor-token`).',
  },
};

function securityOf(security: Security, method: string): Json[] {
  switch (security) {
    case 'none':
      return [];
    case 'session':
      return [method === 'get' ? { session: [] } : { session: [], csrf: [] }];
    case 'admin':
      return [{ adminKey: [] }];
    case 'hmac':
      return [{ hmacTenant: [], hmacTimestamp: [], hmacNonce: [], hmacSignature: [] }];
    case 'visitor':
      return [{ visitorToken: [] }];
  }
}

/** Path or query parameters from an object schema, one per property. */
function parametersOf(schema: ZodType, where: 'path' | 'query'): Json[] {
  const json = toJsonSchema(schema, 'input');
  const properties = json.properties as Record<string, Json> | undefined;
  if (!properties) throw new Error(`A ${where} schema must be an object`);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (envelope: boolean) => ({
  description: 'An error (see `error` for its stable code)',
  content: { 'application/json': { schema: ref(envelope ? 'EnvelopeError' : 'Error') } },
});

function operationId(op: Operation): string {
  const words = op.path
    .split('/')
    .filter((s) => s && s !== 'api')
    .map((s) => (s.startsWith('{') ? `by ${s.slice(1, -1)}` : s))
    .join(' ')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [op.method, ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

function operationOf(op: Operation): Json {
  const status = op.status ?? 200;
  const data = op.response ? toJsonSchema(op.response, 'output') : {};
  const success =
    status === 204
      ? { description: op.returns ?? 'Done (no content)' }
      : {
          description: op.returns ?? 'Success',
          content: {
            [op.contentType ?? 'application/json']: {
              schema: op.envelope
                ? { allOf: [ref('Envelope'), { type: 'object', properties: { data } }] }
                : data,
            },
          },
        };
  const parameters = [
    ...(op.params ? parametersOf(op.params, 'path') : []),
    ...(op.query ? parametersOf(op.query, 'query') : []),
  ];
  const body = op.body ? toJsonSchema(op.body, 'input') : undefined;
  const requestBody = op.upload
    ? {
        required: true,
        description: "The file's bytes; the file name is `?filename=` or `X-Filename`",
        content: {
          'application/octet-stream': {
            schema: { type: 'string', contentMediaType: 'application/octet-stream' },
          },
        },
      }
    : body && {
        required: true,
        content: {
          'application/json': { schema: body },
          ...(op.form ? { 'application/x-www-form-urlencoded': { schema: body } } : {}),
        },
      };
  return {
    operationId: operationId(op),
    tags: [op.tag],
    summary: op.summary,
    security: securityOf(op.security, op.method),
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: { [String(status)]: success, default: errorResponse(op.envelope ?? false) },
  };
}

/** The OpenAPI 3.1 document of the HTTP API, built from the routes' own zod schemas. */
export function buildOpenApiDocument(): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method.toUpperCase()} ${op.path} is documented twice`);
    item[op.method] = operationOf(op);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard API',
      version: '1',
      description:
        'The agent REST API (session cookie and `X-CSRFToken`), the public widget and mobile endpoints, ' +
        'and the relay (`/api/v1/*`: provisioning with `X-Admin-Key`, the visitor side with its bearer ' +
        'token, the tenant backend signed with HMAC#1). Every relay answer is in the envelope ' +
        '`{status_code, data, message}`; other errors are `{error, message}`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      securitySchemes,
      schemas: {
        Error: toJsonSchema(errorSchema, 'output'),
        Envelope: toJsonSchema(envelopeSchema, 'output'),
        EnvelopeError: toJsonSchema(envelopeErrorSchema, 'output'),
      },
    },
  };
}
