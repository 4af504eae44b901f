// The published package's JavaScript (issue 25): tsc compiles src/, codecs/ and examples/ into dist/
// (tsconfig.build.json: `.ts` import specifiers rewritten to `.js`, source maps beside), then the
// files the code reads beside itself and tsc does not emit are copied into the same places:
// the status page (src/web/page/) and the conformance suite's plain-JavaScript client.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const rel of ['src/web/page', 'src/stream/conformance/death-client.mjs']) {
  const from = path.join(root, rel);
  if (!existsSync(from)) throw new Error(`build: ${rel} is missing`);
  cpSync(from, path.join(dist, rel), { recursive: true });
}
console.log(`built ${path.relative(process.cwd(), dist) || '.'}`);
