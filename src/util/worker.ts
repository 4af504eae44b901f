/**
 * Starting worker threads whose code is TypeScript (run by tsx, as the rest of the project in a
 * checkout) or, in the compiled package (dist/), JavaScript that needs no loader.
 */
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * tsx's registration module, for a TypeScript worker: resolved when this module loads, and only
 * when this module is itself TypeScript (a checkout, run by tsx). The compiled package (dist/,
 * where tsx is a development dependency and may be absent) starts its workers as JavaScript.
 */
const TSX_API: string | undefined = import.meta.url.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined;

/**
 * A Worker for a module. Run from the sources, every worker gets tsx (its module, or what that
 * imports, may be TypeScript): workers do not inherit the parent's module loader hooks (and Node
 * 20 ignores --import in a worker's execArgv), so a tiny ES-module bootstrap registers tsx in the
 * worker and then imports the module. Compiled, the module starts as it is; a .ts one is refused.
 */
export function tsWorker(file: string | URL, opts: WorkerOptions = {}): Worker {
  const target = typeof file === 'string' ? pathToFileURL(file).href : file.href;
  if (TSX_API === undefined) {
    if (/\.[cm]?ts$/.test(new URL(target).pathname)) throw new Error(`${target}: a TypeScript module needs tsx to run in a worker (npm install tsx), or its compiled .js`);
    return new Worker(new URL(target), opts);
  }
  const boot = `import { register } from ${JSON.stringify(TSX_API)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), opts);
}
