'use strict';
/**
 * @botflow/client — a thin Node client of botflow's gRPC FlowService.
 *
 * The contract (protos/botflow/v1/*.proto, shipped inside the package) is
 * loaded at runtime with @grpc/proto-loader; requests and responses are plain objects in (almost)
 * the proto's canonical JSON mapping: lowerCamelCase field names, enums as
 * their names, maps as objects, default values omitted. The differences from
 * canonical JSON are listed in LOADER_OPTIONS below and in the README.
 *
 * Every call has a deadline (default 60 s). An INVALID_ARGUMENT answer rejects
 * with InvalidRequestError (its fieldViolations decoded from the
 * google.rpc.Status trailer); any other failure rejects with grpc-js's
 * ServiceError (`code`, `details`, `metadata`). A provider or webhook failure
 * is never an error: it is data in the action's result.
 *
 * @module @botflow/client
 */

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

/** Milliseconds a call may take unless the caller passes another `timeoutMs`. */
const DEFAULT_TIMEOUT_MS = 60_000;

/** The file that defines botflow.v1.FlowService, relative to the proto root. */
const SERVICE_PROTO = 'botflow/v1/flow_service.proto';

/**
 * How messages become plain objects (@grpc/proto-loader options). Chosen to be
 * as close as possible to the proto's canonical JSON mapping. Differences:
 * - google.protobuf.Duration is `{seconds, nanos}` (seconds a string, each
 *   omitted when 0), not "1.5s";
 * - doubles are always JS numbers (NaN/Infinity too, not "NaN" strings);
 * - requests must use lowerCamelCase names: the client rejects unknown keys
 *   (snake_case ones included) and oneofs with two members set, which
 *   protobufjs would silently drop or send.
 * With `oneofs: false` there is no virtual field naming the set oneof member:
 * test the members themselves (`event.finished`, `value.text !== undefined`).
 */
const LOADER_OPTIONS = Object.freeze({
  keepCase: false,
  enums: String,
  longs: String,
  defaults: false,
  oneofs: false,
});

/** The package's own copy of the contract (`npm pack` puts it there). */
const PACKAGED_PROTOS = path.join(__dirname, '..', 'protos');
/** The contract of the repository this package lives in (<repo>/clients/node). */
const REPO_PROTOS = path.join(__dirname, '..', '..', '..', 'protos');

/**
 * The directory that holds botflow/v1/*.proto: `explicit` when given, else the
 * BOTFLOW_PROTO_PATH environment variable, else the package's own `protos/`
 * (an installed package), else the repository's `protos/` (a checkout).
 * @param {string} [explicit]
 * @returns {string} an absolute path
 */
function resolveProtoPath(explicit) {
  const bundled = fs.existsSync(path.join(PACKAGED_PROTOS, SERVICE_PROTO)) ? PACKAGED_PROTOS : REPO_PROTOS;
  const dir = path.resolve(explicit || process.env.BOTFLOW_PROTO_PATH || bundled);
  if (!fs.existsSync(path.join(dir, SERVICE_PROTO))) {
    throw new Error(
      `botflow protos not found: ${path.join(dir, SERVICE_PROTO)} does not exist ` +
        '(pass {protoPath} or set BOTFLOW_PROTO_PATH to the directory holding botflow/v1/)',
    );
  }
  return dir;
}

/** @type {Map<string, {root: protobuf.Root, FlowService: grpc.ServiceClientConstructor, protoPath: string}>} */
const loaded = new Map();

/**
 * Loads the contract once per directory: the FlowService client constructor
 * (proto-loader) and a protobufjs Root of the same files (used to check
 * requests before they are sent; handy for reflection).
 * @param {string} [protoPath] see resolveProtoPath
 * @returns {{root: protobuf.Root, FlowService: grpc.ServiceClientConstructor, protoPath: string}}
 */
function loadProtos(protoPath) {
  const dir = resolveProtoPath(protoPath);
  let found = loaded.get(dir);
  if (!found) {
    const definition = protoLoader.loadSync(SERVICE_PROTO, { ...LOADER_OPTIONS, includeDirs: [dir] });
    const FlowService = /** @type {any} */ (grpc.loadPackageDefinition(definition)).botflow.v1.FlowService;
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => path.join(dir, target);
    root.loadSync(SERVICE_PROTO, { keepCase: false });
    root.resolveAll();
    found = { root, FlowService, protoPath: dir };
    loaded.set(dir, found);
  }
  return found;
}

// The google.rpc.Status of the grpc-status-details-bin trailer and the
// google.rpc.BadRequest detail the client reads from it (field numbers as in
// googleapis' status.proto and error_details.proto; other details are skipped).
const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            BadRequest: {
              fields: { fieldViolations: { rule: 'repeated', type: 'FieldViolation', id: 1 } },
              nested: {
                FieldViolation: {
                  fields: {
                    field: { type: 'string', id: 1 },
                    description: { type: 'string', id: 2 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
});
const RpcStatus = rpcTypes.lookupType('google.rpc.Status');
const BadRequest = rpcTypes.lookupType('google.rpc.BadRequest');

/**
 * The google.rpc.BadRequest field violations of a failed call, by path
 * (`{"action.openai.history": "must be set ..."}`); empty when there are none.
 * @param {{metadata?: grpc.Metadata}} error a grpc-js ServiceError
 * @returns {Record<string, string>}
 */
function fieldViolations(error) {
  /** @type {Record<string, string>} */
  const found = {};
  const raw = error && error.metadata ? error.metadata.get('grpc-status-details-bin') : [];
  for (const bytes of raw) {
    if (!Buffer.isBuffer(bytes)) continue;
    let status;
    try {
      status = /** @type {any} */ (RpcStatus.decode(bytes));
    } catch {
      continue;
    }
    for (const detail of status.details) {
      if (detail.typeUrl.split('/').pop() !== 'google.rpc.BadRequest') continue;
      const badRequest = /** @type {any} */ (BadRequest.decode(detail.value));
      for (const violation of badRequest.fieldViolations) {
        found[violation.field] = violation.description;
      }
    }
  }
  return found;
}

/** The server refused the request (INVALID_ARGUMENT); nothing ran. */
class InvalidRequestError extends Error {
  /**
   * @param {string} message the status details
   * @param {Record<string, string>} violations field path → description
   * @param {grpc.ServiceError} [cause] the grpc-js error
   */
  constructor(message, violations, cause) {
    super(message, cause ? { cause } : undefined);
    this.name = 'InvalidRequestError';
    /** Field path → what is wrong with it, e.g. {"action.openai.prompt": "is required"}. */
    this.fieldViolations = violations;
    /** Always grpc.status.INVALID_ARGUMENT (3), as on a ServiceError. */
    this.code = grpc.status.INVALID_ARGUMENT;
    /** The status message. */
    this.details = message;
    /** The trailers of the call. */
    this.metadata = cause ? cause.metadata : new grpc.Metadata();
  }
}

/** @param {grpc.ServiceError} error */
function typed(error) {
  if (error && error.code === grpc.status.INVALID_ARGUMENT) {
    return new InvalidRequestError(error.details || 'invalid request', fieldViolations(error), error);
  }
  return error;
}

/**
 * What protobufjs would silently get wrong in `value`, recursively: keys that
 * are no field of `type` (it drops them) and oneofs with more than one member
 * set (it sends them all; the server keeps the last).
 * @param {protobuf.Type} type
 * @param {unknown} value
 * @param {string} where
 * @param {string[]} found
 */
function requestProblems(type, value, where, found) {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return found;
  const object = /** @type {Record<string, unknown>} */ (value);
  for (const [key, item] of Object.entries(object)) {
    const field = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
    if (!field) {
      found.push(`unknown field ${where}${key}`);
    } else if (item != null && field.resolvedType instanceof protobuf.Type) {
      const nested = field.resolvedType;
      if (field.map) {
        for (const [k, v] of Object.entries(item))
          requestProblems(nested, v, `${where}${key}["${k}"].`, found);
      } else if (field.repeated && Array.isArray(item)) {
        item.forEach((v, i) => requestProblems(nested, v, `${where}${key}[${i}].`, found));
      } else {
        requestProblems(nested, item, `${where}${key}.`, found);
      }
    }
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => object[name] != null);
    if (set.length > 1) found.push(`more than one of ${where}{${set.join(', ')}} (a oneof) is set`);
  }
  return found;
}

/**
 * @param {protobuf.Root} root
 * @param {string} typeName
 * @param {unknown} request
 */
function checkRequest(root, typeName, request) {
  if (request === null || typeof request !== 'object') {
    throw new TypeError(`${typeName} must be an object`);
  }
  const problems = requestProblems(root.lookupType(typeName), request, '', []);
  if (problems.length) {
    const hint = problems.some((p) => p.startsWith('unknown'))
      ? ' (field names are lowerCamelCase, e.g. answerVariable)'
      : '';
    throw new TypeError(`bad ${typeName}: ${problems.join('; ')}${hint}`);
  }
}

/**
 * Cancels `call` when `signal` aborts; returns the function that stops
 * listening (call it when the call ends, so a long-lived signal holds nothing).
 * @param {AbortSignal | undefined} signal
 * @param {{cancel: () => void}} call
 * @returns {() => void}
 */
function cancelOnAbort(signal, call) {
  if (!signal) return () => {};
  const onAbort = () => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * The error a call ends with: the signal's reason when the caller aborted
 * (grpc-js would report a plain CANCELLED), else the typed gRPC error.
 * @param {AbortSignal | undefined} signal
 * @param {grpc.ServiceError} error
 */
function callError(signal, error) {
  return signal && signal.aborted ? signal.reason : typed(error);
}

/**
 * @param {CallOptions} [options]
 * @returns {[grpc.Metadata, grpc.CallOptions]}
 */
function callArgs(options = {}, token = undefined) {
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError('signal must be an AbortSignal');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  }
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  for (const [key, value] of Object.entries(options.metadata || {})) metadata.set(key, value);
  return [metadata, { deadline: new Date(Date.now() + timeoutMs) }];
}

/**
 * @typedef {object} CallOptions
 * @property {number} [timeoutMs] deadline of the call in milliseconds (default 60000); it bounds
 *   everything the server does for the call, retries included
 * @property {Record<string, string>} [metadata] request metadata, e.g. {"x-request-id": "..."}
 * @property {AbortSignal} [signal] aborting it cancels the call, which then rejects (or the
 *   `for await` loop throws) with `signal.reason`
 */

/**
 * @typedef {object} ClientOptions
 * @property {grpc.ChannelCredentials} [credentials] channel credentials (wins over `tls`)
 * @property {boolean | {rootCerts?: Buffer, privateKey?: Buffer, certChain?: Buffer}} [tls]
 *   true = TLS with the system roots; an object = TLS with these PEM buffers (privateKey and
 *   certChain for mutual TLS). Default: plaintext.
 * @property {string} [protoPath] the directory holding botflow/v1/*.proto (else
 *   BOTFLOW_PROTO_PATH, else the repository's protos/)
 * @property {Record<string, unknown>} [channelOptions] grpc-js channel options
 * @property {string} [token] sent as "authorization: Bearer <token>" on every call (for a
 *   server started with BOTFLOW_AUTH_TOKEN)
 */

/** A client of one botflow server (or a load balancer in front of many). */
class BotflowClient {
  /**
   * @param {string} target "host:port"
   * @param {ClientOptions} [options]
   */
  constructor(target, options = {}) {
    const { credentials, tls, protoPath, channelOptions, token } = options;
    this._token = token;
    let channelCredentials = credentials;
    if (!channelCredentials) {
      if (tls) {
        const pem = tls === true ? {} : tls;
        channelCredentials = grpc.credentials.createSsl(
          pem.rootCerts ?? null,
          pem.privateKey ?? null,
          pem.certChain ?? null,
        );
      } else {
        channelCredentials = grpc.credentials.createInsecure();
      }
    }
    const { root, FlowService } = loadProtos(protoPath);
    this._root = root;
    this._stub = new FlowService(target, channelCredentials, channelOptions);
  }

  /**
   * Runs one action. A provider failure is in the result
   * (`result.outcome === "ACTION_OUTCOME_FAILED"`), not thrown.
   * @param {object} request a botflow.v1.ExecuteActionRequest
   * @param {CallOptions} [options]
   * @returns {Promise<any>} the botflow.v1.ExecuteActionResponse
   */
  executeAction(request, options) {
    return new Promise((resolve, reject) => {
      checkRequest(this._root, 'botflow.v1.ExecuteActionRequest', request);
      const [metadata, callOptions] = callArgs(options, this._token);
      const signal = options && options.signal;
      if (signal && signal.aborted) {
        reject(signal.reason);
        return;
      }
      let stopListening = () => {};
      const call = this._stub.ExecuteAction(request, metadata, callOptions, (error, response) => {
        stopListening();
        if (error) reject(callError(signal, error));
        else resolve(response);
      });
      stopListening = cancelOnAbort(signal, call);
    });
  }

  /**
   * Runs a flow, yielding its events (botflow.v1.RunFlowResponse) as they
   * arrive; the last one has `finished`. Leaving the loop early (break,
   * return, throw) cancels the call and the server's work.
   * @param {object} request a botflow.v1.RunFlowRequest
   * @param {CallOptions} [options]
   * @returns {AsyncGenerator<any, void, undefined>}
   */
  async *runFlow(request, options) {
    checkRequest(this._root, 'botflow.v1.RunFlowRequest', request);
    const [metadata, callOptions] = callArgs(options, this._token);
    const signal = options && options.signal;
    if (signal && signal.aborted) throw signal.reason;
    const call = this._stub.RunFlow(request, metadata, callOptions);
    // After a cancel grpc-js still emits the CANCELLED status as an 'error'
    // event: keep it from becoming an uncaught exception.
    call.on('error', () => {});
    const stopListening = cancelOnAbort(signal, call);
    try {
      for await (const event of call) yield event;
    } catch (error) {
      throw callError(signal, /** @type {grpc.ServiceError} */ (error));
    } finally {
      stopListening();
      call.cancel();
    }
  }

  /**
   * Runs a flow and returns all its events (the last one has `finished`).
   * @param {object} request a botflow.v1.RunFlowRequest
   * @param {CallOptions} [options]
   * @returns {Promise<any[]>}
   */
  async runFlowToFinish(request, options) {
    const events = [];
    for await (const event of this.runFlow(request, options)) events.push(event);
    return events;
  }

  /** Closes the channel and its connections; the client cannot be used afterwards. */
  close() {
    this._stub.close();
  }
}

module.exports = {
  BotflowClient,
  /** The @grpc/grpc-js module the client uses (build credentials with it). */
  grpc,
  /** gRPC status codes: status.DEADLINE_EXCEEDED === 4, status[4] === "DEADLINE_EXCEEDED". */
  status: grpc.status,
  InvalidRequestError,
  fieldViolations,
  loadProtos,
  resolveProtoPath,
  DEFAULT_TIMEOUT_MS,
  LOADER_OPTIONS,
};
