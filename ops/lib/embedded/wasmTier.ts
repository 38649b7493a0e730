import { setFlagsFromString } from 'node:v8';

/**
 * Runs WebAssembly compiled once, by V8's baseline compiler (Liftoff), with no optimizing tier.
 * The optimizing tier recompiles hot functions of PGlite's 9 MB engine in background threads: in a
 * quickstart that cost ~14 s of CPU (31 s of user time against 17 s, measured on this 2-core
 * machine), more than the faster code gives back in a run of seconds, and on 2 cores it competes
 * with the engine itself. For short-lived commands only: a long-lived server wins it back.
 * Process-wide (worker threads included); call it before the first engine starts.
 */
export function compileWasmOnce(): void {
  setFlagsFromString('--liftoff-only');
}
