// Mocha's spec reporter, plus the run's counts written as JSON to $SBC_TEST_RESULTS/<suite>.json
// so that `make test` can add up every suite (unit, contract, HIL) into one closing line.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');

class CountReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const dir = process.env.SBC_TEST_RESULTS;
      if (!dir) return;
      const suite = process.env.SBC_TEST_SUITE || 'mocha';
      const s = runner.stats;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${suite}.json`), JSON.stringify({ suite, passed: s.passes, failed: s.failures, skipped: s.pending }));
    });
  }
}
module.exports = CountReporter;
