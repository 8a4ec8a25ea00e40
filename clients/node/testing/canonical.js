'use strict';
/**
 * Conversions between the proto's canonical JSON mapping (what the contract
 * vectors are written in) and the plain objects of @botflow/client
 * (@grpc/proto-loader with the client's LOADER_OPTIONS). Driven by the
 * protobufjs reflection of the contract, so a field is converted by its type,
 * never by the shape of its value.
 *
 * Responses (toCanonical):
 * - google.protobuf.Duration {seconds: "1", nanos: 5e8} → "1.500s";
 * - non-finite doubles → "NaN", "Infinity", "-Infinity";
 * - bytes (Buffer) → base64;
 * - oneof virtual fields (only present with `oneofs: true`) are dropped.
 * Enums are already names, int64 already strings, and with `defaults: false`
 * default values, empty lists and empty maps are already omitted, as in
 * canonical JSON.
 *
 * Requests (fromCanonical): canonical JSON parsers also accept the proto
 * field names (snake_case), which protobufjs would drop, so they are renamed
 * to lowerCamelCase; Duration strings become {seconds, nanos}. Everything
 * else (enum names, numbers as strings, "NaN") protobufjs takes as it is.
 */

const protobuf = require('protobufjs');
const { LOADER_OPTIONS } = require('../src/index.js');

const DURATION = '.google.protobuf.Duration';
const NANOS = 1_000_000_000n;

const options = /** @type {Record<string, unknown>} */ ({ ...LOADER_OPTIONS });
if (options.defaults || options.arrays || options.objects || options.json) {
  // Canonical JSON omits defaults; these options would add them back (or
  // convert values this file converts).
  throw new Error('canonical.js assumes defaults, arrays, objects and json are off');
}

/** @param {{seconds?: string | number, nanos?: number}} value */
function durationToString(value) {
  const seconds = BigInt(value.seconds ?? 0);
  const nanos = BigInt(value.nanos ?? 0);
  const negative = seconds < 0n || nanos < 0n;
  const total = (seconds < 0n ? -seconds : seconds) * NANOS + (nanos < 0n ? -nanos : nanos);
  const whole = total / NANOS;
  const frac = total % NANOS;
  let text = `${negative ? '-' : ''}${whole}`;
  if (frac !== 0n) {
    let digits = frac.toString().padStart(9, '0');
    // 0, 3, 6 or 9 fractional digits, as protobuf's JSON printers write them.
    if (frac % 1_000_000n === 0n) digits = digits.slice(0, 3);
    else if (frac % 1000n === 0n) digits = digits.slice(0, 6);
    text += `.${digits}`;
  }
  return `${text}s`;
}

/** @param {string} text */
function durationFromString(text) {
  const match = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!match) throw new Error(`not a google.protobuf.Duration: ${JSON.stringify(text)}`);
  const sign = match[1] ? -1 : 1;
  const nanos = Number((match[3] || '').padEnd(9, '0'));
  return { seconds: String(BigInt(match[2]) * BigInt(sign)), nanos: sign * nanos };
}

/** @param {protobuf.Field} field @param {unknown} value */
function scalarToCanonical(field, value) {
  if ((field.type === 'double' || field.type === 'float') && typeof value === 'number') {
    return Number.isFinite(value) ? value : String(value);
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    return Buffer.from(value).toString('base64');
  }
  return value;
}

/**
 * A client response (or any message object) in canonical JSON.
 * @param {protobuf.Type} type
 * @param {Record<string, unknown>} message
 * @returns {unknown}
 */
function toCanonical(type, message) {
  if (type.fullName === DURATION) return durationToString(message);
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, value] of Object.entries(message)) {
    const field = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
    if (!field) {
      if (Object.hasOwn(type.oneofs || {}, key)) continue; // `oneofs: true` virtual field
      throw new Error(`${type.fullName} has no field ${key}`);
    }
    /** @param {unknown} item */
    const convert = (item) =>
      field.resolvedType instanceof protobuf.Type
        ? toCanonical(field.resolvedType, /** @type {any} */ (item))
        : scalarToCanonical(field, item);
    if (field.map) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)]));
    } else if (field.repeated) {
      out[key] = /** @type {unknown[]} */ (value).map(convert);
    } else {
      out[key] = convert(value);
    }
  }
  return out;
}

/** @param {string} name */
const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/**
 * A request in canonical JSON as the client takes it. Unknown keys are kept
 * (the client rejects them, as a canonical JSON parser would).
 * @param {protobuf.Type} type
 * @param {unknown} message
 * @returns {unknown}
 */
function fromCanonical(type, message) {
  if (type.fullName === DURATION && typeof message === 'string') return durationFromString(message);
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return message;
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [raw, value] of Object.entries(message)) {
    const key = Object.hasOwn(type.fields, raw) ? raw : camel(raw);
    const field = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
    if (!field || value === null || !(field.resolvedType instanceof protobuf.Type)) {
      out[field ? key : raw] = value;
      continue;
    }
    /** @param {unknown} item */
    const convert = (item) => fromCanonical(/** @type {protobuf.Type} */ (field.resolvedType), item);
    if (field.map) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)]));
    } else if (field.repeated && Array.isArray(value)) {
      out[key] = value.map(convert);
    } else {
      out[key] = convert(value);
    }
  }
  return out;
}

module.exports = { toCanonical, fromCanonical, durationToString, durationFromString };
