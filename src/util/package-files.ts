/**
 * Where the package's own files are, whether this code runs as TypeScript from a checkout (tsx) or
 * compiled into dist/ (the published package: `npm run build`, tsconfig.build.json). The compiled
 * tree mirrors the checkout under dist/ (dist/src/…, dist/codecs/…), and data the code reads —
 * board/, alsa/overlays/, systemd/ — stays at the package's root, beside dist/.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether the module at `moduleUrl` is the compiled build (a .js file under dist/). */
export function isCompiled(moduleUrl: string): boolean {
  return moduleUrl.endsWith('.js');
}

/**
 * The package's root folder, from a module `levels` folders below it in the source tree
 * (src/board/load.ts: 2). Compiled, the module sits one folder deeper (dist/), which is skipped.
 */
export function packageRoot(moduleUrl: string, levels: number): string {
  const up = path.resolve(path.dirname(fileURLToPath(moduleUrl)), ...Array<string>(levels).fill('..'));
  return isCompiled(moduleUrl) && path.basename(up) === 'dist' ? path.dirname(up) : up;
}

/**
 * A module beside `moduleUrl`, named as in the source tree (`./worker.ts`): compiled, its .js
 * file (tsc rewrites import specifiers, not URLs built at run time).
 */
export function siblingModule(spec: string, moduleUrl: string): URL {
  const u = new URL(spec, moduleUrl);
  if (isCompiled(moduleUrl) && u.pathname.endsWith('.ts')) u.pathname = `${u.pathname.slice(0, -3)}.js`;
  return u;
}
