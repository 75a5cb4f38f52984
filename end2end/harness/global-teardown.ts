// Stops whatever the suite started, whatever state the specs left Redis in.

import { readState } from './processes';

export default async function globalTeardown(): Promise<void> {
  const state = readState();
  for (const pid of [state.serverPid, state.redisPid]) {
    if (pid === null || pid <= 0) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
