/**
 * Citation checker: finds the places where a text file of the repository names a path (a source
 * for a figure, a document to read, a markdown link) and reports each one the repository does not
 * hold, so that a fresh clone has no dangling citations.
 *
 * What counts as a citation of a path:
 *  - a path into the folder of specs and notes that lives beside the checkout (`spec`, `notes` or
 *    `hooks` under a folder named `shared`), wherever it appears, even inside an absolute path;
 *  - a path that starts with one or more `../`, resolved against the citing file's folder: reported
 *    when it climbs out of the repository, and, for a document (`.md`, or any path with a
 *    `#anchor`), when the repository does not hold it;
 *  - a root-relative document path whose first folder is a top-level folder of the repository, as
 *    source strings and comments write them (`codecs/wm8960/FACTS.md#bus`): any `.md` path, any
 *    path with a `#anchor`, and any path under `docs/`;
 *  - in markdown files, a link or image `[text](target)` whose target is relative (resolved against
 *    the markdown file's folder), or a bare `#anchor` into the same file.
 * A `#anchor` after a markdown target must match one of its headings (GitHub's heading ids) or an
 * explicit `<a id>` / `<a name>`; so must a section named in words right after a markdown path on
 * the same line (`codecs/pcm5122/FACTS.md, "Reset defaults"`, or a bare `FACTS.md, "Pop"` in a
 * file of a folder that holds a FACTS.md).
 *
 * Not checked: URLs; absolute system paths (`/dev/shm`); `./` paths; paths whose first folder is
 * not one of the repository's (`sound/soc/codecs/...`); `../` module specifiers (`.ts`, `.js`, ...:
 * they are relative to whatever file imports them, lint-wall tests write them for made-up files,
 * and the type check resolves the real ones); root-relative code paths (`src/x/y.ts`), which tests
 * and comments also write for made-up files.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface CitationProblem {
  /** Repository-relative path of the citing file (forward slashes). */
  file: string;
  /** 1-based line of the citation. */
  line: number;
  /** The citation as written (with its `#anchor`, if any). */
  citation: string;
  reason: string;
}

export interface RepoIndex {
  root: string;
  files: ReadonlySet<string>;
  dirs: ReadonlySet<string>;
  topDirs: ReadonlySet<string>;
}

const SKIP_SEGMENTS = new Set(['node_modules', '.git', '.cache']);
const SKIP_FILES = new Set(['package-lock.json']);

/** Tracked and untracked (not ignored) files, repository-relative, that exist and are not skipped. */
export function listRepoFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const seen = new Set<string>();
  for (const f of out.split('\0')) {
    if (!f || seen.has(f)) continue;
    const parts = f.split('/');
    if (parts.some((p) => SKIP_SEGMENTS.has(p)) || SKIP_FILES.has(parts[parts.length - 1]!)) continue;
    try {
      if (!statSync(path.join(root, f)).isFile()) continue;
    } catch {
      continue; // tracked but deleted in the working tree
    }
    seen.add(f);
  }
  return [...seen].sort();
}

export function buildIndex(root: string, files: readonly string[] = listRepoFiles(root)): RepoIndex {
  const dirs = new Set<string>();
  const topDirs = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    if (parts.length > 1) topDirs.add(parts[0]!);
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return { root, files: new Set(files), dirs, topDirs };
}

/** GitHub's id for a heading text: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
export function slugify(heading: string): string {
  return heading
    .trim()
    .replace(/<[^>]*>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a markdown text defines: heading ids (duplicates numbered as GitHub does) and explicit `<a id|name>`. */
export function markdownAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  const add = (slug: string): void => {
    const n = counts.get(slug) ?? 0;
    counts.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  };
  const lines = text.split(/\r?\n/);
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(l);
    if (f) {
      if (fence === null) fence = f[1]![0]!;
      else if (f[1]![0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const atx = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(l);
    if (atx) add(slugify(atx[1]!));
    else if (/^\s{0,3}(=+|-+)\s*$/.test(l) && i > 0 && lines[i - 1]!.trim() !== '' && !/^\s*([-*+]|\d+\.)\s/.test(lines[i - 1]!)) add(slugify(lines[i - 1]!));
    for (const m of l.matchAll(/<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]!);
  }
  return anchors;
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(index: RepoIndex, file: string): Set<string> {
  const key = path.join(index.root, file);
  let a = anchorCache.get(key);
  if (!a) {
    a = markdownAnchors(readFileSync(key, 'utf8'));
    anchorCache.set(key, a);
  }
  return a;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function isBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8000).includes(0);
}

/** Whether `anchors` has `anchor`; a section named in words may leave out the heading's number ("10. Extensions"). */
function hasAnchor(anchors: Set<string>, anchor: string, named: boolean): boolean {
  if (anchors.has(anchor)) return true;
  return named && [...anchors].some((a) => a.replace(/^(?:\d+-)+/, '') === anchor);
}

/** What is wrong with a repository-relative target (normalised, no anchor), or null. */
function targetProblem(index: RepoIndex, target: string, anchor: string | undefined, named = false): string | null {
  const t = target.replace(/\/+$/, '');
  if (t === '' || t === '.') return null; // the repository root itself
  if (t === '..' || t.startsWith('../')) return 'climbs out of the repository';
  const isFile = index.files.has(t);
  if (!isFile && !index.dirs.has(t)) return `the repository holds no ${t}`;
  if (anchor && isFile && t.endsWith('.md') && !hasAnchor(anchorsOf(index, t), anchor, named)) return `${t} has no section #${anchor}`;
  return null;
}

// A path token: optional `../` prefixes, then segments. Not preceded by a character that would make
// it the tail of a longer word, URL or absolute path.
const TOKEN = /(?<![\w./@$%{}~:\\-])((?:\.\.\/)+)?([A-Za-z0-9_@][\w.@-]*(?:\/[\w.@-]+)*\/?)(#[\w-]+)?/g;
// The folder of specs and notes beside the checkout, anywhere in a line.
const BESIDE = /(?:\.\.\/)*\bshared\/(?:spec|notes|hooks)\b[\w./-]*(?:#[\w-]+)?/g;
const MD_LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const MODULE = /\.(?:[cm]?[jt]sx?)$/;

/** The citations of `file` (repository-relative) that name a path the repository does not hold. */
export function checkFile(index: RepoIndex, file: string): CitationProblem[] {
  const buf = readFileSync(path.join(index.root, file));
  if (isBinary(buf)) return [];
  const text = buf.toString('utf8');
  const dir = path.posix.dirname(file);
  const isMd = file.endsWith('.md');
  const problems: CitationProblem[] = [];
  const lines = text.split(/\r?\n/);
  let fence: string | null = null;

  lines.forEach((raw, i) => {
    const line = i + 1;
    const taken: [number, number][] = []; // spans already reported on this line
    const report = (start: number, end: number, citation: string, reason: string): void => {
      if (taken.some(([s, e]) => start < e && s < end)) return;
      taken.push([start, end]);
      problems.push({ file, line, citation, reason });
    };
    let scan = raw;

    if (isMd) {
      const f = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
      if (f) {
        if (fence === null) fence = f[1]![0]!;
        else if (f[1]![0] === fence) fence = null;
      } else if (fence === null) {
        for (const m of raw.matchAll(MD_LINK)) {
          const target = m[1]!;
          const start = m.index;
          const end = start + m[0].length;
          // Blank the whole link out of the token scan: its target is checked here.
          scan = scan.slice(0, start) + ' '.repeat(m[0].length) + scan.slice(end);
          if (SCHEME.test(target) || target.startsWith('/') || target.startsWith('//')) continue;
          const hash = target.indexOf('#');
          const p = hash < 0 ? target : target.slice(0, hash);
          const anchor = hash < 0 ? undefined : safeDecode(target.slice(hash + 1));
          if (p === '') {
            if (anchor !== undefined && !anchorsOf(index, file).has(anchor)) report(start, end, target, `${file} has no section #${anchor}`);
            continue;
          }
          const why = targetProblem(index, path.posix.normalize(path.posix.join(dir, safeDecode(p))), anchor);
          if (why) report(start, end, target, why);
        }
      }
    }

    for (const m of scan.matchAll(BESIDE)) {
      report(m.index, m.index + m[0].length, m[0].replace(/[.]+$/, ''), 'names the specs and notes folder beside the checkout, which a clone does not have');
    }

    for (const m of scan.matchAll(TOKEN)) {
      const up = m[1] ?? '';
      const rest = m[2]!.replace(/\.+$/, '');
      // A section named in words right after the path: `FACTS.md, "Reset defaults"`.
      const named = /^,\s*"([^"]+)"/.exec(scan.slice(m.index + m[0].length));
      const anchor = m[3]?.slice(1) ?? (named && rest.endsWith('.md') ? slugify(named[1]!) : undefined);
      const isDoc = rest.endsWith('.md') || anchor !== undefined;
      const shown = up + rest + (m[3] ?? (named && anchor !== undefined ? `, "${named[1]}"` : ''));
      let target: string;
      if (!up && rest === 'FACTS.md') {
        // A part's own facts, named without their folder from a file of that folder.
        target = path.posix.join(dir, rest);
        if (!index.files.has(target) || anchor === undefined) continue;
        const why = targetProblem(index, target, anchor, m[3] === undefined);
        if (why) report(m.index, m.index + m[0].length, shown, why);
        continue;
      }
      if (up) {
        if (MODULE.test(rest)) continue;
        target = path.posix.normalize(path.posix.join(dir, up + rest));
        if (!isDoc && !(target === '..' || target.startsWith('../'))) continue;
      } else {
        const slash = rest.indexOf('/');
        if (slash <= 0) continue;
        const top = rest.slice(0, slash);
        if (!index.topDirs.has(top) || !(isDoc || top === 'docs')) continue;
        target = path.posix.normalize(rest);
      }
      const why = targetProblem(index, target, anchor, m[3] === undefined);
      if (why) report(m.index, m.index + m[0].length, shown, why);
    }
  });
  return problems;
}

export interface CheckTreeOptions {
  /** Repository-relative folders whose files are not walked (their citations are not checked). */
  exclude?: readonly string[];
}

/** Every problem in every text file of the repository (tracked or untracked, not ignored). */
export function checkTree(root: string, options: CheckTreeOptions = {}): CitationProblem[] {
  const files = listRepoFiles(root);
  const index = buildIndex(root, files);
  const exclude = (options.exclude ?? []).map((d) => d.replace(/\/+$/, '') + '/');
  return files.filter((f) => !exclude.some((d) => f.startsWith(d))).flatMap((f) => checkFile(index, f));
}

export function formatProblem(p: CitationProblem): string {
  return `${p.file}:${p.line}: ${p.citation}: ${p.reason}`;
}
