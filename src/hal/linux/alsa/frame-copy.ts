/** The allocation-free byte copier lives in src/util (the ring buffer uses it too). */
export { FrameCopier } from '../../../util/ring-copy.ts';
