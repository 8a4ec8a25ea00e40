'use strict';
// AbortSignal on every call: aborting cancels the call, which rejects (or the
// runFlow loop throws) with the signal's reason; an aborted signal sends nothing.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { BotflowClient } = require('../src/index.js');
const { startServer } = require('../testing/server.js');

/** An OpenAI action on the fake provider that answers after `latencyMs`. */
function slowAction(latencyMs) {
  return {
    openai: {
      token: 'sk-test',
      prompt: 'Be brief.',
      history: 'HISTORY_MODE_PROMPT_ONLY',
      provider: 'fake',
      answerVariable: 'answer',
      timeoutMs: 60_000,
      providerOptions: { latency_ms: String(latencyMs) },
    },
  };
}

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

test('aborting executeAction rejects with the reason', async () => {
  const controller = new AbortController();
  const reason = new Error('caller gave up');
  const call = client.executeAction({ action: slowAction(20_000) }, { signal: controller.signal });
  setTimeout(() => controller.abort(reason), 50);
  await assert.rejects(call, (error) => error === reason);
  // The client stays usable.
  const response = await client.executeAction({ action: slowAction(0) });
  assert.equal(response.result.outcome, 'ACTION_OUTCOME_SUCCEEDED');
});

test('an already aborted signal rejects before anything is sent', async () => {
  const signal = AbortSignal.abort();
  await assert.rejects(client.executeAction({ action: slowAction(0) }, { signal }), (error) => {
    assert.equal(error.name, 'AbortError');
    return true;
  });
  const events = client.runFlow({ flow: { blocks: [{ id: 'a', sendMessage: { text: 'hi' } }] } }, { signal });
  await assert.rejects(events.next(), (error) => error.name === 'AbortError');
});

test('aborting runFlow ends the loop with the reason', async () => {
  const controller = new AbortController();
  const flow = {
    blocks: [
      { id: 'one', next: 'slow', sendMessage: { text: 'One' } },
      { id: 'slow', openai: slowAction(20_000).openai },
    ],
  };
  const seen = [];
  await assert.rejects(
    (async () => {
      for await (const event of client.runFlow({ flow }, { signal: controller.signal })) {
        seen.push(event);
        controller.abort();
      }
    })(),
    (error) => error.name === 'AbortError',
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0].messageSent.text, 'One');
});

test('a signal that is not an AbortSignal is a TypeError', async () => {
  await assert.rejects(
    client.executeAction({ action: slowAction(0) }, { signal: /** @type {any} */ ({ aborted: false }) }),
    TypeError,
  );
});
