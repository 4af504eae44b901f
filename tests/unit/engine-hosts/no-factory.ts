/** Test host module with no createHost export. */
export const notAFactory = 1;
