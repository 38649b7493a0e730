// Worker threads do not inherit the hooks tsx registered on the main thread: register them here,
// then load the TypeScript worker (bin/aetherlens-db.js does the same for the CLI).
import { register } from 'tsx/esm/api';

register();
await import('./engineWorker.ts');
