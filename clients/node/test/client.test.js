'use strict';
// Direct tests of the wrapper: deadlines, cancellation, error types, request
// checks, the proto path, the vector matcher and normaliser, and the README
// example. Most run against a real botflow server; the deadline and cancel
// plumbing is also observed from an in-process grpc-js server.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { promisify } = require('node:util');
const protobuf = require('protobufjs');

const {
  BotflowClient,
  DEFAULT_TIMEOUT_MS,
  InvalidRequestError,
  fieldViolations,
  grpc,
  loadProtos,
  resolveProtoPath,
  status,
} = require('../src/index.js');
const {
  durationFromString,
  durationToString,
  fromCanonical,
  toCanonical,
} = require('../testing/canonical.js');
const { ABSENT, ANY, mismatches } = require('../testing/matching.js');
const { REPO, startServer } = require('../testing/server.js');

const PACKAGE = path.resolve(__dirname, '..');

/** An OpenAI action on the fake provider. */
function fakeAction(providerOptions = {}, extra = {}) {
  return {
    openai: {
      token: 'sk-test',
      prompt: 'Be brief.',
      history: 'HISTORY_MODE_PROMPT_ONLY',
      provider: 'fake',
      answerVariable: 'answer',
      providerOptions,
      ...extra,
    },
  };
}

/** `promise`, or a rejection with `why` after `ms`: for waits that must not hang. */
function within(ms, promise, why) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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

describe('against botflow', () => {
  test('executeAction resolves with plain objects shaped like canonical JSON', async () => {
    const response = await client.executeAction({
      action: fakeAction({ reply: 'Hello {{name}}' }),
      variables: { name: { text: 'Ada' }, empty: {} },
    });
    assert.equal(response.result.outcome, 'ACTION_OUTCOME_SUCCEEDED'); // enums by name
    assert.equal(response.result.answer, 'Hello Ada');
    assert.equal(response.result.attempts, 1);
    assert.equal(response.result.errorKind, undefined); // default values are omitted
    assert.equal(typeof response.result.elapsed.nanos, 'number'); // Duration: {seconds?, nanos?}
    assert.deepEqual(response.variables.answer, { text: 'Hello Ada' });
    assert.deepEqual(response.variables['last webhook failure'], { text: '' }); // oneof: kept
    assert.deepEqual(response.variables.empty, {}); // a Value with no kind
    assert.equal(response.warnings, undefined); // an empty list is omitted
  });

  test('a timeout shorter than the call rejects with DEADLINE_EXCEEDED', async () => {
    await client.executeAction({ action: fakeAction() }); // connect first
    const started = Date.now();
    await assert.rejects(
      client.executeAction({ action: fakeAction({ latency_ms: '5000' }) }, { timeoutMs: 1 }),
      (error) => {
        assert.ok(!(error instanceof InvalidRequestError));
        assert.equal(error.code, status.DEADLINE_EXCEEDED);
        assert.equal(typeof error.details, 'string');
        assert.ok(error.metadata instanceof grpc.Metadata);
        return true;
      },
    );
    assert.ok(Date.now() - started < 2000, 'the deadline did not cut the call short');
  });

  test('the deadline reaches the server, which gives up in time', async () => {
    // 20 s of provider latency against a 1.5 s deadline: botflow clips the
    // attempt to the deadline (a Timeout result) or the deadline passes first.
    const started = Date.now();
    try {
      const response = await client.executeAction(
        { action: fakeAction({ latency_ms: '20000' }, { timeoutMs: 60_000 }) },
        { timeoutMs: 1500 },
      );
      assert.equal(response.result.errorKind, 'ERROR_KIND_TIMEOUT');
    } catch (error) {
      assert.equal(error.code, status.DEADLINE_EXCEEDED, `${error}`);
    }
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  test('breaking out of runFlow returns at once; the client stays usable', async () => {
    const flow = {
      blocks: [
        { id: 'one', next: 'slow', sendMessage: { text: 'One' } },
        {
          id: 'slow',
          next: 'two',
          openai: fakeAction({ latency_ms: '20000' }, { timeoutMs: 60_000 }).openai,
        },
        { id: 'two', sendMessage: { text: 'Two' } },
      ],
    };
    const started = Date.now();
    const seen = [];
    for await (const event of client.runFlow({ flow }, { timeoutMs: 30_000 })) {
      seen.push(event);
      break;
    }
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.deepEqual(seen, [{ sequence: 1, blockId: 'one', messageSent: { text: 'One' } }]);
    const events = await client.runFlowToFinish({ flow: { blocks: [flow.blocks[2]] } });
    assert.equal(events.at(-1).finished.status, 'FLOW_STATUS_COMPLETED');
  });

  test('INVALID_ARGUMENT rejects executeAction with InvalidRequestError', async () => {
    const request = { action: { openai: { token: ' ', provider: 'nope' } } };
    await assert.rejects(client.executeAction(request), (error) => {
      assert.ok(error instanceof InvalidRequestError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'InvalidRequestError');
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.match(error.message, /invalid request/);
      assert.equal(error.details, error.message);
      assert.deepEqual(Object.keys(error.fieldViolations).sort(), [
        'action.openai.history',
        'action.openai.prompt',
        'action.openai.provider',
        'action.openai.token',
      ]);
      for (const description of Object.values(error.fieldViolations)) {
        assert.equal(typeof description, 'string');
        assert.ok(description.length > 0);
      }
      assert.equal(error.cause.code, status.INVALID_ARGUMENT); // the grpc-js ServiceError
      assert.ok(error.metadata.get('grpc-status-details-bin').length > 0);
      return true;
    });
  });

  test('INVALID_ARGUMENT rejects runFlow iteration with InvalidRequestError', async () => {
    const flow = { blocks: [{ id: 'a', next: 'nowhere', sendMessage: { text: 'hi' } }] };
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const event of client.runFlow({ flow })) seen.push(event);
      })(),
      (error) => {
        assert.ok(error instanceof InvalidRequestError);
        assert.deepEqual(Object.keys(error.fieldViolations), ['flow.blocks[0].next']);
        return true;
      },
    );
    assert.deepEqual(seen, [], 'nothing runs');
  });

  test('the README example runs the support triage flow and resumes it', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      [path.join(PACKAGE, 'examples', 'support_triage.js'), server.target],
      {
        cwd: REPO,
        timeout: 30_000,
      },
    );
    assert.match(stdout, /#1 \[greet\] bot says: Hi Ana!/);
    assert.match(stdout, /finished: FLOW_STATUS_WAITING_FOR_ANSWER after 2 step\(s\), resume at "ask issue"/);
    assert.match(stdout, /\[billing\] bot says: Got it, a billing question/);
    assert.match(stdout, /finished: FLOW_STATUS_COMPLETED/);
    assert.match(stdout, /tags: \[ 'triaged' \]/);
  });
});

test('the README shows examples/support_triage.js as it is', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const example = fs.readFileSync(path.join(PACKAGE, 'examples', 'support_triage.js'), 'utf8');
  assert.ok(
    readme.includes('```js\n' + example + '```\n'),
    'README.md "From Node" differs from the example file',
  );
});

test('other failures reject with the grpc-js ServiceError', async () => {
  const closed = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const nowhere = new BotflowClient(`127.0.0.1:${closed}`);
  try {
    await assert.rejects(nowhere.executeAction({ action: fakeAction() }, { timeoutMs: 5000 }), (error) => {
      assert.ok(!(error instanceof InvalidRequestError));
      assert.equal(error.code, status.UNAVAILABLE);
      return true;
    });
    await assert.rejects(nowhere.runFlowToFinish({ flow: {} }, { timeoutMs: 5000 }), {
      code: status.UNAVAILABLE,
    });
  } finally {
    nowhere.close();
  }
});

/** A google.rpc.Status with an ErrorInfo and two BadRequest details, encoded. */
function statusDetails() {
  const types = protobuf.Root.fromJSON({
    nested: {
      Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
      Status: {
        fields: {
          code: { type: 'int32', id: 1 },
          message: { type: 'string', id: 2 },
          details: { rule: 'repeated', type: 'Any', id: 3 },
        },
      },
      BadRequest: { fields: { fieldViolations: { rule: 'repeated', type: 'FieldViolation', id: 1 } } },
      FieldViolation: {
        fields: { field: { type: 'string', id: 1 }, description: { type: 'string', id: 2 } },
      },
    },
  });
  const [Status, BadRequest] = ['Status', 'BadRequest'].map((name) => types.lookupType(name));
  const badRequest = (...pairs) =>
    BadRequest.encode({
      fieldViolations: pairs.map(([field, description]) => ({ field, description })),
    }).finish();
  return Buffer.from(
    Status.encode({
      code: status.INVALID_ARGUMENT,
      message: 'refused',
      details: [
        { typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from([0x0a, 0x01, 0x78]) },
        {
          typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
          value: badRequest(['a.b', 'first'], ['c[0]', 'second']),
        },
        { typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: badRequest(['d', 'third']) },
      ],
    }).finish(),
  );
}

describe('seen from an in-process grpc-js server', () => {
  const calls = [];
  let cancelled;
  let fake;
  let fakeClient;

  before(async () => {
    let onCancel;
    cancelled = new Promise((resolve) => {
      onCancel = resolve;
    });
    fake = new grpc.Server();
    fake.addService(loadProtos().FlowService.service, {
      ExecuteAction(call, callback) {
        calls.push({ deadline: call.getDeadline(), metadata: call.metadata.getMap(), request: call.request });
        if (call.request.action.openai?.prompt === 'refuse') {
          const metadata = new grpc.Metadata();
          metadata.set('grpc-status-details-bin', statusDetails());
          callback({ code: status.INVALID_ARGUMENT, details: 'refused', metadata });
          return;
        }
        callback(null, { result: { outcome: 'ACTION_OUTCOME_SUCCEEDED' } });
      },
      RunFlow(call) {
        calls.push({ deadline: call.getDeadline(), metadata: call.metadata.getMap(), request: call.request });
        if (call.request.maxSteps === 7) {
          call.write({ sequence: 1, blockId: 'a', messageSent: { text: 'before' } });
          call.emit('error', { code: status.RESOURCE_EXHAUSTED, details: 'mid-stream' });
          return;
        }
        call.on('cancelled', () => onCancel(Date.now()));
        call.write({ sequence: 1, blockId: 'a', messageSent: { text: 'hi' } });
        // ...and never finishes unless cancelled.
      },
    });
    const port = await promisify(fake.bindAsync.bind(fake))(
      '127.0.0.1:0',
      grpc.ServerCredentials.createInsecure(),
    );
    fakeClient = new BotflowClient(`127.0.0.1:${port}`);
  });

  after(() => {
    fakeClient?.close();
    fake?.forceShutdown();
  });

  test('every call carries a deadline, 60 s unless timeoutMs says otherwise', async () => {
    const sent = Date.now();
    await fakeClient.executeAction({ action: fakeAction() }, { metadata: { 'x-request-id': 'r-1' } });
    await fakeClient.executeAction({ action: fakeAction() }, { timeoutMs: 2500 });
    const [first, second] = calls.splice(0);
    assert.equal(DEFAULT_TIMEOUT_MS, 60_000);
    const inFirst = new Date(first.deadline).getTime() - sent;
    const inSecond = new Date(second.deadline).getTime() - sent;
    assert.ok(inFirst > 58_000 && inFirst <= 61_000, `default deadline in ${inFirst} ms`);
    assert.ok(inSecond > 1000 && inSecond <= 3500, `deadline in ${inSecond} ms`);
    assert.equal(first.metadata['x-request-id'], 'r-1');
    assert.equal(first.request.action.openai.history, 'HISTORY_MODE_PROMPT_ONLY');
  });

  test('fieldViolations come from every BadRequest detail; other details are skipped', async () => {
    const action = fakeAction({}, { prompt: 'refuse' });
    await assert.rejects(fakeClient.executeAction({ action }), (error) => {
      assert.ok(error instanceof InvalidRequestError);
      assert.equal(error.message, 'refused');
      assert.deepEqual(error.fieldViolations, { 'a.b': 'first', 'c[0]': 'second', d: 'third' });
      assert.deepEqual(fieldViolations(error.cause), error.fieldViolations);
      return true;
    });
    calls.splice(0);
  });

  test('an error mid-stream is thrown from the loop after the events before it', async () => {
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const event of fakeClient.runFlow({ flow: {}, maxSteps: 7 }))
          seen.push(event.messageSent.text);
      })(),
      (error) => {
        assert.ok(!(error instanceof InvalidRequestError));
        assert.equal(error.code, status.RESOURCE_EXHAUSTED);
        assert.equal(error.details, 'mid-stream');
        return true;
      },
    );
    assert.deepEqual(seen, ['before']);
    calls.splice(0);
  });

  test('breaking out of runFlow cancels the call', async () => {
    let broke;
    for await (const event of fakeClient.runFlow({ flow: { blocks: [] } })) {
      assert.deepEqual(event, { sequence: 1, blockId: 'a', messageSent: { text: 'hi' } });
      broke = Date.now();
      break;
    }
    const [call] = calls.splice(0);
    assert.ok(new Date(call.deadline).getTime() - Date.now() > 55_000, 'RunFlow has the default deadline');
    const at = await within(5000, cancelled, 'the server never saw the call cancelled');
    assert.ok(at >= broke);
  });
});

// Certificates from trustme, a dev dependency of the Python venv.
const PYTHON = path.join(REPO, '.venv', 'bin', 'python');

describe('TLS', { skip: !fs.existsSync(PYTHON) && `needs ${PYTHON} (with trustme)` }, () => {
  let dir;
  const pem = (name) => fs.readFileSync(path.join(dir, name));
  let tlsServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'botflow-tls-'));
    const script = [
      'import sys, trustme',
      'ca = trustme.CA()',
      'ca.cert_pem.write_to_path(sys.argv[1] + "/ca.pem")',
      'server = ca.issue_cert("botflow.test")',
      'server.private_key_pem.write_to_path(sys.argv[1] + "/server.key")',
      'open(sys.argv[1] + "/server.pem", "wb").write(b"".join(p.bytes() for p in server.cert_chain_pems))',
      'client = ca.issue_cert("client@example.com")',
      'client.private_key_pem.write_to_path(sys.argv[1] + "/client.key")',
      'open(sys.argv[1] + "/client.pem", "wb").write(b"".join(p.bytes() for p in client.cert_chain_pems))',
    ].join('\n');
    await promisify(execFile)(PYTHON, ['-c', script, dir]);
    tlsServer = await startServer([
      '--tls-cert',
      path.join(dir, 'server.pem'),
      '--tls-key',
      path.join(dir, 'server.key'),
      '--tls-client-ca',
      path.join(dir, 'ca.pem'),
    ]);
  });

  after(async () => {
    await tlsServer?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('mutual TLS with {tls: {rootCerts, privateKey, certChain}}', async () => {
    const tls = { rootCerts: pem('ca.pem'), privateKey: pem('client.key'), certChain: pem('client.pem') };
    // The certificate names botflow.test; the channel option also keeps Node
    // from sending an IP address as the TLS server name.
    const channelOptions = { 'grpc.ssl_target_name_override': 'botflow.test' };
    const secure = new BotflowClient(tlsServer.target, { tls, channelOptions });
    try {
      const response = await secure.executeAction(
        { action: fakeAction({ reply: 'over TLS' }) },
        { timeoutMs: 10_000 },
      );
      assert.equal(response.result.answer, 'over TLS');
    } finally {
      secure.close();
    }
  });

  test('without a client certificate, or in plaintext, the call fails', async () => {
    const channelOptions = { 'grpc.ssl_target_name_override': 'botflow.test' };
    for (const options of [{ tls: { rootCerts: pem('ca.pem') }, channelOptions }, {}]) {
      const refused = new BotflowClient(tlsServer.target, options);
      try {
        await assert.rejects(
          refused.executeAction({ action: fakeAction() }, { timeoutMs: 5000 }),
          (error) => {
            assert.ok(!(error instanceof InvalidRequestError));
            assert.equal(error.code, status.UNAVAILABLE, `${error}`);
            return true;
          },
        );
      } finally {
        refused.close();
      }
    }
  });
});

describe('requests are checked before they are sent', () => {
  test('unknown fields (snake_case ones too) and two members of a oneof are a TypeError', async () => {
    const action = fakeAction();
    action.openai.answer_variable = 'x';
    await assert.rejects(client.executeAction({ action }), {
      name: 'TypeError',
      message: /^bad botflow\.v1\.ExecuteActionRequest: unknown field action\.openai\.answer_variable \(/,
    });
    const flow = {
      blocks: [{ id: 'a', send_message: { text: 'x' } }],
      variables: [{ name: 'v', defaultValue: { txt: 'y' } }],
    };
    await assert.rejects(client.runFlowToFinish({ flow, variables: { a: { number: 1, extra: 2 } } }), {
      name: 'TypeError',
      message: new RegExp(
        'unknown field flow\\.blocks\\[0\\]\\.send_message; ' +
          'unknown field flow\\.variables\\[0\\]\\.defaultValue\\.txt; unknown field variables\\["a"\\]\\.extra',
      ),
    });
    const two = { openai: fakeAction().openai, setVariable: { variable: 'x' } };
    await assert.rejects(client.executeAction({ action: two }), {
      name: 'TypeError',
      message:
        /^bad botflow\.v1\.ExecuteActionRequest: more than one of action\.\{openai, setVariable\} \(a oneof\) is set$/,
    });
    const optional = { action: fakeAction({}, { temperature: 0 }), variables: { v: { text: '' } } };
    await client.executeAction(optional); // an optional field and a oneof member at their defaults are fine
  });

  test('timeoutMs must be a positive number', async () => {
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100']) {
      await assert.rejects(client.executeAction({ action: fakeAction() }, { timeoutMs }), {
        name: 'TypeError',
      });
    }
  });
});

describe('proto path', () => {
  test('defaults to the repository protos/, or the option, or BOTFLOW_PROTO_PATH', () => {
    const protos = path.join(REPO, 'protos');
    const saved = process.env.BOTFLOW_PROTO_PATH;
    try {
      delete process.env.BOTFLOW_PROTO_PATH;
      assert.equal(resolveProtoPath(), protos);
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'botflow-protos-'));
      fs.cpSync(protos, copy, { recursive: true });
      process.env.BOTFLOW_PROTO_PATH = copy;
      assert.equal(resolveProtoPath(), copy);
      assert.equal(resolveProtoPath(protos), protos); // the option wins
      assert.equal(loadProtos().protoPath, copy);
      fs.rmSync(copy, { recursive: true });
    } finally {
      if (saved === undefined) delete process.env.BOTFLOW_PROTO_PATH;
      else process.env.BOTFLOW_PROTO_PATH = saved;
    }
  });

  test('a missing proto directory is a clear error', () => {
    assert.throws(() => new BotflowClient('127.0.0.1:1', { protoPath: '/nonexistent' }), {
      message:
        /botflow protos not found: \/nonexistent\/botflow\/v1\/flow_service\.proto .*BOTFLOW_PROTO_PATH/,
    });
  });
});

describe('vector matcher (port of tests/contract/matching.py)', () => {
  const matches = [
    [{ a: 1 }, { a: 1, b: 2 }],
    [{ a: { b: [1, { c: 'x' }] } }, { a: { b: [1.0, { c: 'x', d: 0 }] } }],
    [{ id: ANY }, { id: 'f00' }],
    [{ attempts: ABSENT }, { outcome: 'X' }],
    [[], []],
    [true, true],
  ];
  for (const [expected, actual] of matches) {
    test(`matches ${JSON.stringify(expected)}`, () => assert.deepEqual(mismatches(expected, actual), []));
  }
  const fails = [
    [{ a: 1 }, { b: 1 }, '$.a: missing'],
    [{ a: 1 }, { a: 2 }, '$.a: expected 1, got 2'],
    [{ a: [1, 2] }, { a: [1] }, '$.a: expected 2 items, got [1]'],
    [{ a: { b: 'x' } }, { a: 'x' }, '$.a: expected an object, got "x"'],
    [{ id: ANY }, {}, '$.id: missing'],
    [{ attempts: ABSENT }, { attempts: 1 }, '$.attempts: expected absent, got 1'],
    [true, 1, '$: expected true, got 1'],
    [[{ t: 'x' }], [{ t: 'y' }], '$[0].t: expected "x", got "y"'],
    [{ a: '1' }, { a: 1 }, '$.a: expected "1", got 1'],
  ];
  for (const [expected, actual, where] of fails) {
    test(`can fail: ${where}`, () => assert.deepEqual(mismatches(expected, actual), [where]));
  }
});

describe('canonical JSON normaliser', () => {
  const { root } = loadProtos();
  const ActionResult = root.lookupType('botflow.v1.ActionResult');

  test('Duration objects become canonical strings and back', () => {
    const cases = [
      [{}, '0s'],
      [{ seconds: '3' }, '3s'],
      [{ nanos: 11_000_000 }, '0.011s'],
      [{ seconds: '1', nanos: 500_000 }, '1.000500s'],
      [{ seconds: '2', nanos: 1 }, '2.000000001s'],
      [{ seconds: '-1', nanos: -500_000_000 }, '-1.500s'],
    ];
    for (const [object, text] of cases) {
      assert.equal(durationToString(object), text);
      assert.equal(durationToString(durationFromString(text)), text);
    }
  });

  test('responses: Duration, non-finite doubles, oneof virtual fields', () => {
    const result = {
      outcome: 'ACTION_OUTCOME_FAILED',
      elapsed: { seconds: '1', nanos: 2_000_000 },
      attempts: 2,
    };
    assert.deepEqual(toCanonical(ActionResult, result), { ...result, elapsed: '1.002s' });
    const Value = root.lookupType('botflow.v1.Value');
    assert.deepEqual(toCanonical(Value, { number: Number.NaN, kind: 'number' }), { number: 'NaN' });
    assert.throws(() => toCanonical(Value, { nope: 1 }), /has no field nope/);
  });

  test('requests: proto field names become lowerCamelCase', () => {
    const Request = root.lookupType('botflow.v1.ExecuteActionRequest');
    const request = { action: { openai: { answer_variable: 'a', provider_options: { latency_ms: '1' } } } };
    assert.deepEqual(fromCanonical(Request, request), {
      action: { openai: { answerVariable: 'a', providerOptions: { latency_ms: '1' } } },
    });
  });
});

describe('caller token', () => {
  const TOKEN = 'node-caller-s3cret';
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let tokenServer;
  before(async () => {
    tokenServer = await startServer([], { BOTFLOW_AUTH_TOKEN: TOKEN });
  });
  after(async () => {
    await tokenServer.stop();
  });
  const request = {
    action: {
      openai: { token: 't', prompt: 'p', history: 'HISTORY_MODE_PROMPT_ONLY', provider: 'fake' },
    },
  };

  test('a client with the token is served', async () => {
    const client = new BotflowClient(tokenServer.target, { token: TOKEN });
    try {
      const response = await client.executeAction(request, { timeoutMs: 10_000 });
      assert.equal(response.result.outcome, 'ACTION_OUTCOME_SUCCEEDED');
    } finally {
      client.close();
    }
  });

  for (const token of [undefined, 'wrong']) {
    test(`a client with token ${token} is UNAUTHENTICATED`, async () => {
      const client = new BotflowClient(tokenServer.target, { token });
      try {
        await assert.rejects(client.executeAction(request, { timeoutMs: 10_000 }), (error) => {
          assert.equal(error.code, status.UNAUTHENTICATED);
          return true;
        });
      } finally {
        client.close();
      }
    });
  }
});
