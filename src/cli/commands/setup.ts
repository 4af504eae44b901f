import { loadBoard } from '../../board/load.ts';
import { hostRootFrom } from '../../system/host.ts';
import { applySetup, changeDiff, planSetup } from '../../system/setup.ts';
import { type Command, EXIT_OK, UsageError, boardOption, parseOptions } from '../command.ts';

export const setupCommand: Command = {
  name: 'setup',
  usage: `usage: sbc-audio setup --board NAME [--root DIR] [--group NAME] [--dry-run | --apply] [--json]

What the Pi needs to run the board with sbc-audio (docs/deploy-raspberry-pi.md):
  - the board's overlay (alsa/overlays/NAME.dts) compiled with dtc -@ into the firmware's overlays/
    (/boot/firmware/overlays, or /boot/overlays before Bookworm); none for the firmware's own;
  - config.txt: dtparam=i2c_arm=on, dtparam=i2s=on, dtoverlay=NAME, the HAT's own dtoverlay
    line commented out;
  - i2c-dev in /etc/modules;
  - the systemd unit /etc/systemd/system/sbc-audio.service (enabled) and
    /etc/sbc-audio/config.json naming the board and the group;
  - the group that may connect.
--dry-run (the default) prints the changes as a diff and changes nothing. --apply makes them,
keeping a backup of each file it changes (FILE.sbc-audio.bak); run again, it changes nothing.
After --apply on a Pi: sudo systemctl daemon-reload, then reboot.

  --board NAME   a board name or board file (a real board that names its overlay)
  --root DIR     the tree to change (default /; also $SBC_AUDIO_HOST_ROOT)
  --group NAME   the group whose members may connect (default audio)
  --dry-run      print the diff only (default)
  --apply        make the changes (as root on a Pi)
  --json         machine-readable: { board, root, applied, changes: [{ path, kind, why, new }], backups, notes }`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, root: { type: 'string' }, group: { type: 'string' }, 'dry-run': { type: 'boolean' }, apply: { type: 'boolean' }, json: { type: 'boolean' },
    });
    const boardName = (await boardOption(values.board))!;
    if (values.apply && values['dry-run']) throw new UsageError('--dry-run and --apply exclude each other');
    if (values.group !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(values.group)) throw new UsageError(`--group: "${values.group}" is not a group name`);
    const root = hostRootFrom(values.root);
    const board = loadBoard(boardName);
    const plan = planSetup(board, { root, ...(values.group ? { group: values.group } : {}) });
    const backups = values.apply ? applySetup(plan, root) : [];
    if (values.json) {
      io.out(JSON.stringify({
        board: plan.board, root: root.root, applied: Boolean(values.apply),
        changes: plan.changes.map((c) => ({ path: c.path, kind: c.kind, why: c.why, new: c.before === undefined })),
        backups, notes: plan.notes,
      }, null, 2));
      return EXIT_OK;
    }
    if (plan.changes.length === 0) io.out(`nothing to change under ${root.root} for board ${board.name}`);
    else if (!values.apply) {
      for (const c of plan.changes) io.out(changeDiff(c));
      io.out(`\n${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'} under ${root.root} (dry run: nothing changed; --apply makes them)`);
    } else {
      for (const c of plan.changes) io.out(`${c.before === undefined ? 'created' : 'changed'} ${root.at(c.path)}: ${c.why}`);
      for (const b of backups) io.out(`backup ${b}`);
      if (root.root === '/') io.out('now: sudo systemctl daemon-reload, then reboot (the overlay and config.txt take effect at boot)');
    }
    for (const n of plan.notes) io.out(`note: ${n}`);
    return EXIT_OK;
  },
};
