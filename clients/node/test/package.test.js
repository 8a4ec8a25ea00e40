'use strict';
// The published shape of @botflow/client: `npm pack` (which copies the
// protos in), then `npm install <tarball>` into an empty folder, then a
// program there runs an ExecuteAction and a RunFlow with resume against a
// real server. Nothing from the checkout is reachable from that folder.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');
const { promisify } = require('node:util');

const { REPO, startServer } = require('../testing/server.js');

const run = promisify(execFile);
const PACKAGE = path.resolve(__dirname, '..');
const PACKED = ['package.json', 'README.md', 'src', 'types', 'scripts'];

/** Packs a copy (the other test files read this package's folder meanwhile). */
async function pack(work) {
  const copy = path.join(work, 'repo', 'clients', 'node');
  for (const name of PACKED) fs.cpSync(path.join(PACKAGE, name), path.join(copy, name), { recursive: true });
  fs.cpSync(path.join(REPO, 'protos', 'botflow'), path.join(work, 'repo', 'protos', 'botflow'), {
    recursive: true,
  });
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: copy });
  const [info] = JSON.parse(stdout);
  return { tarball: path.join(work, info.filename), files: info.files.map((f) => f.path) };
}

const PROGRAM = `
const { BotflowClient } = require('@botflow/client');
async function main() {
  const client = new BotflowClient(process.argv[2]);
  const action = await client.executeAction({
    action: { openai: { token: 'sk-test', prompt: 'Be brief.', history: 'HISTORY_MODE_PROMPT_ONLY',
      provider: 'fake', answerVariable: 'answer', providerOptions: { reply: 'packed hello' } } },
  }, { timeoutMs: 30000 });
  const flow = { startBlockId: 'ask', blocks: [
    { id: 'ask', next: 'echo', waitUserAnswer: { answerVariable: 'issue' } },
    { id: 'echo', sendMessage: { text: 'You said: {{issue}}' } },
  ] };
  const first = await client.runFlowToFinish({ flow }, { timeoutMs: 30000 });
  const waiting = first.at(-1).finished;
  const resumed = await client.runFlowToFinish({
    flow, variables: waiting.variables,
    resume: { blockId: waiting.resumeBlockId, answer: 'my order is late' },
  }, { timeoutMs: 30000 });
  console.log(JSON.stringify({
    answer: action.result.answer, waiting: waiting.status,
    said: resumed.filter((e) => e.messageSent).map((e) => e.messageSent.text),
    finished: resumed.at(-1).finished.status,
  }));
  client.close();
}
main().catch((error) => { console.error(error); process.exitCode = 1; });
`;

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
let work = '';

before(async () => {
  server = await startServer();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'botflow-npm-'));
});

after(async () => {
  await server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the packed tarball installs into an empty folder and calls a server', async () => {
  const { tarball, files } = await pack(work);
  for (const expected of ['protos/botflow/v1/flow_service.proto', 'types/flow_service.d.ts', 'src/index.d.ts']) {
    assert.ok(files.includes(expected), `${expected} is not in the tarball: ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/')), 'tests are not shipped');
  const consumer = path.join(work, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), '{"name": "consumer", "private": true}\n');
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: consumer });
  fs.writeFileSync(path.join(consumer, 'main.js'), PROGRAM);
  // No BOTFLOW_PROTO_PATH: the package must find its own protos.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'BOTFLOW_PROTO_PATH'));
  const { stdout } = await run(process.execPath, ['main.js', server.target], { cwd: consumer, env });
  assert.deepEqual(JSON.parse(stdout), {
    answer: 'packed hello',
    waiting: 'FLOW_STATUS_WAITING_FOR_ANSWER',
    said: ['You said: my order is late'],
    finished: 'FLOW_STATUS_COMPLETED',
  });
});
