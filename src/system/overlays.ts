/**
 * Building the project's device-tree overlays (alsa/overlays/*.dts) with the Device Tree Compiler
 * (`dtc -@`, Debian's device-tree-compiler), and applying one to a base tree with `fdtoverlay`
 * to check its label references (docs/facts/boards.md#building-and-installing-an-overlay).
 */
import { spawnSync } from 'node:child_process';

export interface ToolRun {
  ok: boolean;
  /** What the tool printed on stderr (dtc's warnings and errors). */
  stderr: string;
}

function run(tool: string, args: string[]): ToolRun {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, stderr: missing ? `${tool} is not installed (Debian package device-tree-compiler: apt-get install device-tree-compiler)` : r.error.message };
  }
  return { ok: r.status === 0, stderr: (r.stderr ?? '').trim() };
}

/** `dtc -@ -I dts -O dtb -o OUT SRC`: an overlay (or a base tree) with its symbols. */
export function compileDts(src: string, out: string): ToolRun {
  return run('dtc', ['-@', '-I', 'dts', '-O', 'dtb', '-o', out, src]);
}

/** `fdtoverlay -i BASE -o OUT OVERLAY...`: fails where an overlay targets a label the base lacks. */
export function applyOverlays(baseDtb: string, out: string, overlays: string[]): ToolRun {
  return run('fdtoverlay', ['-i', baseDtb, '-o', out, ...overlays]);
}

/** `fdtget -t s FILE NODE PROP`: a string property of a node, or undefined. */
export function fdtGetString(dtb: string, node: string, prop: string): string | undefined {
  const r = spawnSync('fdtget', ['-t', 's', dtb, node, prop], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Property names of a node (`fdtget -p`), or [] where the node is absent. */
function fdtProps(dtb: string, node: string): string[] {
  const r = spawnSync('fdtget', ['-p', dtb, node], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
}

/** The labels an overlay refers to outside itself (its `__fixups__`), which the base tree must have. */
export function overlayLabelRefs(dtbo: string): string[] {
  return fdtProps(dtbo, '/__fixups__').sort();
}

/** The labels a base tree built with `dtc -@` offers (its `__symbols__`). */
export function baseLabels(dtb: string): string[] {
  return fdtProps(dtb, '/__symbols__').sort();
}

/** The cells of a property as hex words (`fdtget -t x`), or [] where it is absent. */
export function fdtGetCells(dtb: string, node: string, prop: string): string[] {
  const r = spawnSync('fdtget', ['-t', 'x', dtb, node, prop], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(/\s+/).filter(Boolean) : [];
}
