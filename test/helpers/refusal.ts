import { isFerryError } from '../../src/errors.js';

/** The FerryError code a promise rejects with, or 'not refused' when it resolves; any other error is rethrown. */
export async function refusalCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isFerryError(err)) return err.code;
    throw err;
  }
  return 'not refused';
}
