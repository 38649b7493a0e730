// A process that takes a lock, says so on stdout, then does what fileLock.test.ts writes on its
// stdin: `block MS` (the event loop stops, as during a long engine statement), `spawn` (a child
// that outlives us, as pg_dump may), `release`. It ends when its stdin closes. A third argument
// `shared` takes a shared (reader) lock instead, waiting up to the fourth argument's milliseconds.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { acquireLock, acquireSharedLock, type HeldLock } from '../../ops/lib/fileLock.js';

const [path, command = 'lock test holder', mode = 'exclusive', waitMs = '0'] = process.argv.slice(2);
let lock: HeldLock;
try {
  const options = { command, details: { purpose: 'test' }, describe: (o: { pid: number; command: string; since: string }) => `held by pid ${o.pid} (${o.command}, since ${o.since})` };
  lock = mode === 'shared' ? await acquireSharedLock(path!, { ...options, waitMs: Number(waitMs) }) : await acquireLock(path!, options);
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
