// Development entry of the job worker: loads the TypeScript source through tsx
// (tests, `tsx electron/cli/bin.ts`). Builds use the bundled jobs/worker.mjs.
import { tsImport } from 'tsx/esm/api';

await tsImport('./worker.ts', import.meta.url);
