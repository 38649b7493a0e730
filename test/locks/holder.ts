// A process that takes a lock, says so on stdout, then does what fileLock.test.ts writes on its
// stdin: `block MS` (the event loop stops, as during a long engine statement), `spawn` (a child
// that outlives us, as pg_dump may), `release`. It ends when its stdin closes.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { acquireLock, type HeldLock } from '../../ops/lib/fileLock.js';

const [path, command = 'lock test holder'] = process.argv.slice(2);
let lock: HeldLock;
try {
  lock = await acquireLock(path!, { command, details: { purpose: 'test' }, describe: (o) => `held by pid ${o.pid} (${o.command}, since ${o.since})` });
} catch (error) {
  process.stdout.write(`refused ${(error as Error).message}\n`);
  process.exit(3);
}
process.stdout.write(`held ${JSON.stringify(lock.owner)}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, arg] = line.split(' ');
  if (verb === 'block') {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(arg));
    process.stdout.write('unblocked\n');
  } else if (verb === 'spawn') {
    const child = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
    child.unref();
    process.stdout.write(`spawned ${child.pid}\n`);
  } else if (verb === 'release') {
    void lock.release().then(() => process.stdout.write('released\n'));
  }
});
lines.on('close', () => process.exit(0));
