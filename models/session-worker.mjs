// Worker-thread entry of a Detector's inference thread (models/session-thread.ts). Plain JS so it starts the same
// way under `node --import tsx`, the CLI's in-process tsx registration and ava; it then loads the TypeScript job.
import { register } from 'tsx/esm/api';

register();
await import('./session-job.ts');
