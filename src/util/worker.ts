/** Starting worker threads whose code is TypeScript (run by tsx, as the rest of the project). */
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const TSX_API = import.meta.resolve('tsx/esm/api');

/**
 * A Worker for a .ts file. Workers do not inherit the parent's module loader hooks (and Node 20
 * ignores --import in a worker's execArgv), so a tiny ES-module bootstrap registers tsx in the
 * worker and then imports the file.
 */
export function tsWorker(file: string | URL, opts: WorkerOptions = {}): Worker {
  const target = typeof file === 'string' ? pathToFileURL(file).href : file.href;
  const boot = `import { register } from ${JSON.stringify(TSX_API)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), opts);
}
