// Typings of @botflow/client (hand-written; the contract is
// protos/botflow/v1/*.proto). Messages are plain objects with lowerCamelCase
// field names, enums as their names, int64 as strings and default values
// omitted; the shapes below cover what callers touch most and stay open
// (`[field: string]: unknown`) for the rest.

import * as grpc from '@grpc/grpc-js';
import type { Root } from 'protobufjs';

export { grpc };
export declare const status: typeof grpc.status;

/** Milliseconds a call may take unless `timeoutMs` says otherwise (60000). */
export declare const DEFAULT_TIMEOUT_MS: number;

/** The @grpc/proto-loader options the client loads the contract with. */
export declare const LOADER_OPTIONS: Readonly<{
  keepCase: false;
  enums: StringConstructor;
  longs: StringConstructor;
  defaults: false;
  oneofs: false;
}>;

/** botflow.v1.Value: exactly one of text, number, list — or none (the empty value). */
export interface Value {
  text?: string;
  number?: number;
  list?: { items?: string[] };
}

/** Variables by name. */
export type Variables = Record<string, Value>;

/** google.protobuf.Duration as the client returns it: each field omitted when 0. */
export interface Duration {
  seconds?: string;
  nanos?: number;
}

/** botflow.v1.Message. */
export interface Message {
  direction: 'DIRECTION_RECEIVED' | 'DIRECTION_SENT';
  text?: string;
  botSessionId?: string;
}

/** botflow.v1.Conversation. */
export interface Conversation {
  messages?: Message[];
  currentBotSessionId?: string;
}

/** botflow.v1.ExecuteActionRequest; `action` holds one of openai, webhook, setVariable. */
export interface ExecuteActionRequest {
  action: {
    openai?: Record<string, unknown>;
    webhook?: Record<string, unknown>;
    setVariable?: Record<string, unknown>;
  };
  variables?: Variables;
  /** `secret: true`: the value renders but never comes back (send it with every call). */
  variableDefinitions?: Array<{ name: string; defaultValue?: Value; secret?: boolean }>;
  conversation?: Conversation;
}

/** botflow.v1.RunFlowRequest; `flow` is a botflow.v1.Flow as in examples/flows/*.json. */
export interface RunFlowRequest {
  flow: Record<string, unknown>;
  variables?: Variables;
  conversation?: Conversation;
  resume?: { blockId: string; answer?: string; timedOut?: boolean };
  maxSteps?: number;
}

/** botflow.v1.Warning. */
export interface Warning {
  code?: string;
  message?: string;
}

/** botflow.v1.ActionResult. */
export interface ActionResult {
  outcome?: 'ACTION_OUTCOME_SUCCEEDED' | 'ACTION_OUTCOME_FAILED';
  /** e.g. "ERROR_KIND_TIMEOUT"; absent on success. */
  errorKind?: string;
  error?: string;
  answer?: string;
  attempts?: number;
  elapsed?: Duration;
  usage?: { promptTokens?: number; completionTokens?: number; totalTokens?: number };
  model?: string;
  httpStatus?: number;
  [field: string]: unknown;
}

/** botflow.v1.ExecuteActionResponse. */
export interface ExecuteActionResponse {
  result?: ActionResult;
  variables?: Variables;
  warnings?: Warning[];
  [field: string]: unknown;
}

/** botflow.v1.FlowFinished. */
export interface FlowFinished {
  status?:
    | 'FLOW_STATUS_COMPLETED'
    | 'FLOW_STATUS_WAITING_FOR_ANSWER'
    | 'FLOW_STATUS_RESTARTED'
    | 'FLOW_STATUS_STEP_LIMIT_REACHED'
    | 'FLOW_STATUS_OUTPUT_LIMIT_REACHED';
  variables?: Variables;
  resumeBlockId?: string;
  botSessionId?: string;
  steps?: number;
  [field: string]: unknown;
}

/** botflow.v1.RunFlowResponse: exactly one of the optional members is set. */
export interface RunFlowEvent {
  sequence: number;
  blockId?: string;
  messageSent?: { text?: string };
  noteAdded?: { text?: string };
  /** A secret variable's change has `secret: true` and no `value`. */
  variableChanged?: { name?: string; value?: Value; secret?: boolean };
  actionFinished?: { result?: ActionResult };
  warning?: { warning?: Warning };
  botRestarted?: { botSessionId?: string };
  finished?: FlowFinished;
  [field: string]: unknown;
}

export interface CallOptions {
  /** Deadline of the call in milliseconds (default 60000). */
  timeoutMs?: number;
  /** Request metadata, e.g. {"x-request-id": "..."}. */
  metadata?: Record<string, string>;
}

export interface ClientOptions {
  /** Channel credentials; win over `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** true = TLS with the system roots; an object = these PEM buffers. Default: plaintext. */
  tls?: boolean | { rootCerts?: Buffer; privateKey?: Buffer; certChain?: Buffer };
  /** The directory holding botflow/v1/*.proto (else BOTFLOW_PROTO_PATH, else <repo>/protos). */
  protoPath?: string;
  /** grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
  /** Sent as "authorization: Bearer <token>" on every call. */
  token?: string;
}

/** The server refused the request (INVALID_ARGUMENT); nothing ran. */
export declare class InvalidRequestError extends Error {
  constructor(message: string, fieldViolations: Record<string, string>, cause?: grpc.ServiceError);
  readonly name: 'InvalidRequestError';
  /** Field path → description, e.g. {"action.openai.prompt": "is required"}. */
  fieldViolations: Record<string, string>;
  /** grpc.status.INVALID_ARGUMENT. */
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
  cause?: grpc.ServiceError;
}

/** A client of one botflow server. */
export declare class BotflowClient {
  constructor(target: string, options?: ClientOptions);
  /** Runs one action; rejects with InvalidRequestError or a grpc.ServiceError. */
  executeAction(request: ExecuteActionRequest, options?: CallOptions): Promise<ExecuteActionResponse>;
  /** Streams a flow's events; leaving the loop early cancels the call. */
  runFlow(request: RunFlowRequest, options?: CallOptions): AsyncGenerator<RunFlowEvent, void, undefined>;
  /** All events of a run; the last one has `finished`. */
  runFlowToFinish(request: RunFlowRequest, options?: CallOptions): Promise<RunFlowEvent[]>;
  /** Closes the channel. */
  close(): void;
}

/** The google.rpc.BadRequest field violations of a failed call, by path. */
export declare function fieldViolations(error: { metadata?: grpc.Metadata }): Record<string, string>;

/** The directory holding botflow/v1/*.proto: explicit, BOTFLOW_PROTO_PATH, or <repo>/protos. */
export declare function resolveProtoPath(explicit?: string): string;

/** The loaded contract (cached per directory). */
export declare function loadProtos(protoPath?: string): {
  root: Root;
  FlowService: grpc.ServiceClientConstructor;
  protoPath: string;
};
