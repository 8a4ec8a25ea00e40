'use strict';
/**
 * The subset matcher of the contract vectors: a port of
 * tests/contract/matching.py (see tests/contract/README.md). Messages quote
 * values as JSON where Python quotes them with repr().
 */

const ANY = '<any>';
// The key must be missing: canonical JSON omits a zero, empty or unset value.
const ABSENT = '<absent>';

/** @param {unknown} value */
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
/** @param {unknown} value */
const show = (value) => (value === undefined ? 'undefined' : JSON.stringify(value));

/**
 * Where `actual` does not match `expected`; empty when it does.
 * @param {unknown} expected
 * @param {unknown} actual
 * @param {string} [where]
 * @returns {string[]}
 */
function mismatches(expected, actual, where = '$') {
  if (expected === ANY) {
    return actual !== undefined && actual !== null ? [] : [`${where}: missing`];
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return [`${where}: expected an object, got ${show(actual)}`];
    const found = [];
    for (const [key, value] of Object.entries(expected)) {
      const present = Object.hasOwn(/** @type {object} */ (actual), key);
      if (value === ABSENT) {
        if (present) found.push(`${where}.${key}: expected absent, got ${show(/** @type {any} */ (actual)[key])}`);
      } else if (!present) found.push(`${where}.${key}: missing`);
      else found.push(...mismatches(value, /** @type {any} */ (actual)[key], `${where}.${key}`));
    }
    return found;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return [`${where}: expected ${expected.length} items, got ${show(actual)}`];
    }
    return expected.flatMap((item, i) => mismatches(item, actual[i], `${where}[${i}]`));
  }
  // Booleans match only booleans; numbers by value (3 matches 3.0, as in
  // JSON); everything else by strict equality.
  return expected === actual ? [] : [`${where}: expected ${show(expected)}, got ${show(actual)}`];
}

module.exports = { ABSENT, ANY, mismatches };
