'use strict';
/**
 * A real botflow server as a child process, for the tests:
 * `botflow serve --host 127.0.0.1 --port 0 --providers fake,openai`, the
 * executable being BOTFLOW_BIN or <repo>/.venv/bin/botflow (`make test`
 * creates it). The server prints "botflow listening on HOST:PORT" first.
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const REPO = path.resolve(__dirname, '..', '..', '..');
const STARTUP_MS = 30_000;
const STOP_MS = 15_000;

/** The botflow executable the tests run. */
function botflowBin() {
  return process.env.BOTFLOW_BIN || path.join(REPO, '.venv', 'bin', 'botflow');
}

/**
 * The environment without BOTFLOW_* settings: the vectors assume the
 * defaults (no egress allowlist, no caller token, ...), whatever the shell has.
 */
function serverEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BOTFLOW_')));
}

/**
 * Starts a server; resolves once it listens.
 * @param {string[]} [extraArgs] more `botflow serve` flags
 * @param {Record<string, string>} [extraEnv] BOTFLOW_* settings for this server
 * @returns {Promise<{target: string, stderr: () => string, stop: () => Promise<number | null>}>}
 */
function startServer(extraArgs = [], extraEnv = {}) {
  const bin = botflowBin();
  if (!process.env.BOTFLOW_BIN && !fs.existsSync(bin)) {
    return Promise.reject(
      new Error(
        `${bin} does not exist: run \`make test\` (or \`make .venv/.installed\`) first, or set BOTFLOW_BIN`,
      ),
    );
  }
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--providers', 'fake,openai'];
  const child = spawn(bin, [...args, ...extraArgs], {
    // No shutdown delay: no balancer watches a test server, and stop() would wait for it.
    env: {
      ...serverEnv(),
      BOTFLOW_LOG_LEVEL: 'WARNING',
      BOTFLOW_SHUTDOWN_DELAY_SECONDS: '0',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-65536);
  });
  // Never leave a server behind, even when the test process dies early.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      process.removeListener('exit', orphanGuard);
      resolve(code ?? signal);
    }),
  );

  /** SIGTERM, then SIGKILL if it has not exited within STOP_MS. */
  async function stop() {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
    try {
      return /** @type {number | null} */ (await exited);
    } finally {
      clearTimeout(timer);
    }
  }

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (/** @type {string} */ why) => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`botflow server did not start (${bin}): ${why}\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`no "botflow listening on" within ${STARTUP_MS} ms`), STARTUP_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error.message);
    });
    exited.then((code) => {
      clearTimeout(timer);
      fail(`exited with ${code}`);
    });
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      if (settled) return;
      const match = /^botflow listening on (\S+)$/.exec(line.trim());
      if (!match) {
        fail(`unexpected first line ${JSON.stringify(line)}`);
        return;
      }
      // Keep draining stdout so the server never blocks on a full pipe.
      lines.on('line', () => {});
      settled = true;
      resolve({ target: match[1], stderr: () => stderr, stop });
    });
  });
}

module.exports = { startServer, botflowBin, REPO };
