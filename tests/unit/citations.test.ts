/**
 * Citations: every path a file of the repository cites (a figure's source, a document to read, a
 * markdown link, a section of either) must be in the repository, so that a fresh clone has no
 * dangling references. The checker is tests/support/citations.ts; its negative control is the
 * fixture folder tests/fixtures/citations/, whose lines marked BAD it must report and nothing else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIndex, checkFile, checkTree, formatProblem, markdownAnchors, slugify } from '../support/citations.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = 'tests/fixtures/citations';

/** 1-based numbers of the fixture's lines that end in the BAD marker (after any comment opener). */
function badLines(file: string): number[] {
  return readFileSync(path.join(ROOT, file), 'utf8')
    .split('\n')
    .flatMap((l, i) => (/\bBAD\s*$/.test(l) ? [i + 1] : []));
}

describe('citations', () => {
  describe('the checker, on its negative control', () => {
    const index = buildIndex(ROOT);

    for (const name of ['bad.ts', 'bad.md']) {
      const file = `${FIXTURES}/${name}`;
      it(`reports exactly the lines of ${file} marked BAD, one citation each, by file and line`, () => {
        const expected = badLines(file);
        assert.ok(expected.length >= 4, `${file} has ${expected.length} BAD lines`);
        const problems = checkFile(index, file);
        assert.deepEqual(problems.map((p) => `${p.file}:${p.line}`), expected.map((l) => `${file}:${l}`), problems.map(formatProblem).join('\n'));
        const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
        for (const p of problems) {
          const cited = p.citation.replace(/, ".*"$/, '');
          assert.ok(lines[p.line - 1]!.includes(cited), `${formatProblem(p)}: the citation is not on that line`);
        }
      });
    }

    it('names each bad citation as written, with the reason', () => {
      const byCitation = new Map(checkFile(index, `${FIXTURES}/bad.ts`).map((p) => [p.citation, p.reason]));
      // Built from parts so that this file itself cites nothing the repository lacks.
      const beside = ['..', 'shared', 'spec', 'x.md'].join('/');
      const nope = ['docs', 'facts', 'nope.md'].join('/');
      assert.match(byCitation.get(beside) ?? '', /beside the checkout/);
      assert.match(byCitation.get(nope) ?? '', /holds no docs\/facts\/nope\.md/);
      assert.match(byCitation.get(['codecs', 'pcm5122', 'FACTS.md#no-such-section'].join('/')) ?? '', /has no section #no-such-section/);
      assert.match(byCitation.get(['..', '..', '..', '..', 'elsewhere', 'notes.txt'].join('/')) ?? '', /climbs out of the repository/);
    });

    it('gives headings GitHub\'s ids, numbering repeats', () => {
      assert.equal(slugify('Clock master (HiFiBerry DAC+ Pro)'), 'clock-master-hifiberry-dac-pro');
      assert.equal(slugify('`R4` layout: bits 8–6'), 'r4-layout-bits-86');
      assert.equal(slugify('10. Extensions'), '10-extensions');
      const anchors = markdownAnchors('# Title\n\n## Pop\n\n```\n## not a heading\n```\n\n## Pop\n\nSetext\n------\n<a id="custom"></a>\n');
      assert.deepEqual([...anchors].sort(), ['custom', 'pop', 'pop-1', 'setext', 'title']);
    });
  });

  it('every citation in the repository names a path (and section) the repository holds', function () {
    this.timeout(60_000);
    const problems = checkTree(ROOT, { exclude: [FIXTURES] });
    assert.equal(problems.length, 0, `dangling citations:\n${problems.map(formatProblem).join('\n')}`);
  });
});
