/** The stream protocol suite (tests/protocol/suite.ts) against the sim board, in-process. */
import { defineProtocolSuite } from '../protocol/suite.ts';
import { simTarget } from '../protocol/sim-target.ts';

describe('stream protocol suite: sim board (in-process)', () => {
  defineProtocolSuite(simTarget);
});
