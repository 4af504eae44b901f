/**
 * Child process of tests/unit/runtime-dir-safety.test.ts, run as another user: prepares a socket
 * path as `serve` does before binding, and prints what happened. Exit 0: it would bind (the entry
 * was judged stale or absent); exit 1: it refused, the message on stderr.
 */
import { prepareSocketPath } from '../../../src/stream/transport.ts';

try {
  await prepareSocketPath(process.argv[2]!);
  process.stdout.write('prepared\n');
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
