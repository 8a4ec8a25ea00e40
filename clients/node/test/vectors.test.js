'use strict';
// Runs every contract vector (<repo>/tests/contract/vectors/*.json) through
// the Node client against a real botflow server, with the semantics of the
// Python runner (tests/contract/test_vectors.py). Each vector is one test.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, test } = require('node:test');
const grpc = require('@grpc/grpc-js');

const { BotflowClient, InvalidRequestError, loadProtos } = require('../src/index.js');
const { fromCanonical, toCanonical } = require('../testing/canonical.js');
const { mismatches } = require('../testing/matching.js');
const { REPO, startServer } = require('../testing/server.js');

const VECTORS = path.join(REPO, 'tests', 'contract', 'vectors');
const CASES = fs
  .readdirSync(VECTORS)
  .filter((name) => name.endsWith('.json'))
  .sort();
const TIMEOUT_MS = 30_000;
const { root } = loadProtos();
const TYPES = {
  ExecuteAction: ['botflow.v1.ExecuteActionRequest', 'botflow.v1.ExecuteActionResponse'],
  RunFlow: ['botflow.v1.RunFlowRequest', 'botflow.v1.RunFlowResponse'],
};

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {BotflowClient} */
let client;

before(async () => {
  server = await startServer();
  client = new BotflowClient(server.target);
});

after(async () => {
  client?.close();
  await server?.stop();
});

/** The call's messages, in canonical JSON (one response, or every event). */
async function call(rpc, request) {
  const [requestType, responseType] = TYPES[rpc].map((name) => root.lookupType(name));
  const input = fromCanonical(requestType, request);
  const messages =
    rpc === 'ExecuteAction'
      ? [await client.executeAction(input, { timeoutMs: TIMEOUT_MS })]
      : await client.runFlowToFinish(input, { timeoutMs: TIMEOUT_MS });
  const json = messages.map((message) => toCanonical(responseType, message));
  return rpc === 'RunFlow' ? json : json[0];
}

test('there are vectors', () => {
  assert.ok(CASES.length >= 3, `only ${CASES.length} vectors in ${VECTORS}`);
});

for (const name of CASES) {
  test(path.basename(name, '.json'), async () => {
    const vector = JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));
    const { rpc, expect } = vector;
    assert.ok(rpc in TYPES, `rpc must be ExecuteAction or RunFlow, got ${rpc}`);
    assert.equal(Object.keys(expect).length, 1, 'expect holds exactly one of response, events, error');
    if ('error' in expect) {
      await assert.rejects(call(rpc, vector.request), (error) => {
        assert.equal(grpc.status[error.code], expect.error.code, `${error}`);
        if (error.code === grpc.status.INVALID_ARGUMENT) {
          assert.ok(error instanceof InvalidRequestError, `not an InvalidRequestError: ${error}`);
        }
        const violations = Object.keys(error.fieldViolations || {}).sort();
        assert.deepEqual(violations, [...(expect.error.fieldViolations || [])].sort());
        return true;
      });
      return;
    }
    assert.ok(!('response' in expect && rpc !== 'ExecuteAction'), 'response goes with ExecuteAction');
    assert.ok(!('events' in expect && rpc !== 'RunFlow'), 'events go with RunFlow');
    const expected = 'events' in expect ? expect.events : expect.response;
    const problems = mismatches(expected, await call(rpc, vector.request));
    assert.ok(problems.length === 0, problems.join('\n'));
  });
}
