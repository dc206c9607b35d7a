// Worker-thread entry of the resize pool (models/resize-pool.ts). Plain JS so it starts the same way under
// `node --import tsx`, the CLI's in-process tsx registration and ava; it then loads the TypeScript job.
import { register } from 'tsx/esm/api';

register();
await import('./resize-job.ts');
