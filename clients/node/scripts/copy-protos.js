'use strict';
// npm pack / npm publish: copy the contract (<repo>/protos/botflow) into the
// package, so an installed @botflow/client needs no checkout
// (`node scripts/copy-protos.js`, the prepack script); `--remove` deletes the
// copy again (postpack), so the work tree keeps a single source of the protos.

const fs = require('node:fs');
const path = require('node:path');

const PACKAGE = path.resolve(__dirname, '..');
const SOURCE = path.resolve(PACKAGE, '..', '..', 'protos', 'botflow');
const TARGET = path.join(PACKAGE, 'protos', 'botflow');

fs.rmSync(path.join(PACKAGE, 'protos'), { recursive: true, force: true });
if (!process.argv.includes('--remove')) {
  if (!fs.existsSync(SOURCE)) throw new Error(`${SOURCE} not found: pack from a botflow checkout`);
  fs.cpSync(SOURCE, TARGET, { recursive: true, filter: (p) => !p.endsWith('~') });
}
