/**
 * Every test run keeps its control state files to itself: `sbc-audio serve` saves control values
 * (docs/CONTROL.md, "The state file") under $STATE_DIRECTORY when it is set, and otherwise in
 * /var/lib/sbc-audio (root, as CI runs) or ~/.local/state — shared by every run on the machine.
 * Loaded by mocha (--require) before any test; children inherit the variable.
 */
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

if (!process.env.SBC_KEEP_STATE_DIRECTORY) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbc-test-state-'));
  process.env.STATE_DIRECTORY = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}
