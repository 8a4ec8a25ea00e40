// Typings of @botflow/client. The message types are GENERATED from the
// contract (protos/botflow/v1/*.proto) by @grpc/proto-loader's own generator,
// proto-loader-gen-types, with the loader options the client uses (see
// LOADER_OPTIONS): `make proto` writes them to ../types, and a test fails when
// they are stale. Inputs (requests) are the generated `X` types, outputs
// (responses, events) the `X__Output` types: lowerCamelCase field names, enums
// as their names, int64 as strings and default values omitted (every field
// optional). The generator types oneofs as optional members: exactly one is set.

import * as grpc from '@grpc/grpc-js';
import type { Root } from 'protobufjs';

import type { Action } from '../types/botflow/v1/Action';
import type { ActionResult__Output } from '../types/botflow/v1/ActionResult';
import type { Block } from '../types/botflow/v1/Block';
import type { Conversation } from '../types/botflow/v1/Conversation';
import type {
  ExecuteActionRequest as GeneratedExecuteActionRequest,
} from '../types/botflow/v1/ExecuteActionRequest';
import type { ExecuteActionResponse__Output } from '../types/botflow/v1/ExecuteActionResponse';
import type { Flow } from '../types/botflow/v1/Flow';
import type { FlowFinished__Output } from '../types/botflow/v1/FlowFinished';
import type { Message } from '../types/botflow/v1/Message';
import type { OpenAIAction } from '../types/botflow/v1/OpenAIAction';
import type { RunFlowRequest as GeneratedRunFlowRequest } from '../types/botflow/v1/RunFlowRequest';
import type { RunFlowResponse__Output } from '../types/botflow/v1/RunFlowResponse';
import type { Value, Value__Output } from '../types/botflow/v1/Value';
import type { Warning__Output } from '../types/botflow/v1/Warning';

/** Request types (inputs): every field optional, as the generator writes them. */
export type { Action, Block, Conversation, Flow, Message, OpenAIAction, Value };
/** botflow.v1.ExecuteActionRequest. */
export type ExecuteActionRequest = GeneratedExecuteActionRequest;
/** botflow.v1.RunFlowRequest; `flow` is a botflow.v1.Flow as in examples/flows/*.json. */
export type RunFlowRequest = GeneratedRunFlowRequest;
/** botflow.v1.ExecuteActionResponse as the client returns it. */
export type ExecuteActionResponse = ExecuteActionResponse__Output;
/** botflow.v1.ActionResult as the client returns it. */
export type ActionResult = ActionResult__Output;
/** botflow.v1.RunFlowResponse: one event of a run; exactly one event member is set. */
export type RunFlowEvent = RunFlowResponse__Output;
/** botflow.v1.FlowFinished: the last event's `finished`. */
export type FlowFinished = FlowFinished__Output;
/** botflow.v1.Warning as the client returns it. */
export type Warning = Warning__Output;
/** A returned value: exactly one of text, number, list — or none (the empty value). */
export type ValueOutput = Value__Output;
/** Variables by name, as requests take them. */
export type Variables = Record<string, Value>;

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

export interface CallOptions {
  /** Deadline of the call in milliseconds (default 60000). */
  timeoutMs?: number;
  /** Request metadata, e.g. {"x-request-id": "..."}. */
  metadata?: Record<string, string>;
  /**
   * Cancels the call when aborted (AbortController.signal, AbortSignal.timeout()):
   * the call rejects, or the `for await` loop throws, with `signal.reason`, and
   * the server stops its work.
   */
  signal?: AbortSignal;
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
