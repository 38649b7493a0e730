/**
 * Ctrl-C during a bench must not leave a PostgreSQL server or gigabytes of scratch data behind:
 * phases register what to undo, and the first SIGINT/SIGTERM runs it all before exiting.
 */
const undo = new Set<() => Promise<unknown>>();
let installed = false;

async function interrupted(signal: NodeJS.Signals): Promise<void> {
  process.stderr.write(`\n${signal}: stopping servers and removing scratch files…\n`);
  for (const fn of [...undo].reverse()) await fn().catch(() => {});
  process.exit(130);
}

/** Registers `fn` to run if the bench is interrupted; call the returned function once it is done. */
export function onInterrupt(fn: () => Promise<unknown>): () => void {
  if (!installed) {
    installed = true;
    process.once('SIGINT', (s) => void interrupted(s));
    process.once('SIGTERM', (s) => void interrupted(s));
  }
  undo.add(fn);
  return () => undo.delete(fn);
}
