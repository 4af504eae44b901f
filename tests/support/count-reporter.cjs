// Mocha's spec reporter, plus the run's counts written as JSON to $SBC_TEST_RESULTS/<suite>.json
// so that `make test` can add up every suite (unit, contract, HIL) into one closing line.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');

class CountReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    // Each failure's full title and the first lines of its error, so the closing summary can name
    // them after the later suites' output (CI shows only the tail of the log).
    const failures = [];
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test, err) => {
      const message = String((err && (err.message || err)) || '').split('\n').slice(0, 6).join('\n');
      failures.push({ title: test.fullTitle(), file: test.file ? path.relative(process.cwd(), test.file) : undefined, message });
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const dir = process.env.SBC_TEST_RESULTS;
      if (!dir) return;
      const suite = process.env.SBC_TEST_SUITE || 'mocha';
      const s = runner.stats;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${suite}.json`), JSON.stringify({ suite, passed: s.passes, failed: s.failures, skipped: s.pending, failures }));
    });
  }
}
module.exports = CountReporter;
