// What a spec may do to the suite's Redis: take it away and bring it back on the same port.

import { readState, startRedis, stopProcess, writeState } from './processes';

export function baseURL(): string {
  return readState().baseURL;
}

export async function stopRedis(): Promise<void> {
  const state = readState();
  if (state.redisPid === null) return;
  await stopProcess(state.redisPid, state.redisPort);
  writeState({ ...state, redisPid: null });
}

export async function restartRedis(): Promise<void> {
  const state = readState();
  if (state.redisPid !== null) return;
  const redisPid = await startRedis(state.redisPort);
  writeState({ ...state, redisPid });
}
