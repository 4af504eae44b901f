/**
 * Starting worker threads whose code is TypeScript (run by tsx, as the rest of the project in a
 * checkout) or, in the compiled package (dist/), JavaScript that needs no loader.
 */
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A Worker for a .ts or .js module. A .js module starts as it is. For a .ts one: workers do not
 * inherit the parent's module loader hooks (and Node 20 ignores --import in a worker's
 * execArgv), so a tiny ES-module bootstrap registers tsx in the worker and then imports the file;
 * tsx is resolved only then, so the compiled package never loads it for its own workers.
 */
export function tsWorker(file: string | URL, opts: WorkerOptions = {}): Worker {
  const target = typeof file === 'string' ? pathToFileURL(file).href : file.href;
  if (!/\.[cm]?ts$/.test(new URL(target).pathname)) return new Worker(new URL(target), opts);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), opts);
}
