// Starts Redis and the server once for the whole suite, and waits until the page is served
// (cargo-leptos, when used, does not wait for the port either).

import * as fs from 'node:fs';
import { freePort, redisDataDir, startRedis, startServer, waitFor, writeState } from './processes';

export default async function globalSetup(): Promise<void> {
  fs.rmSync(redisDataDir, { recursive: true, force: true }); // each run starts empty
  const redisPort = await freePort();
  const redisPid = await startRedis(redisPort);
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  // Written before the server starts, so teardown stops Redis even if the server cannot start.
  writeState({ baseURL, redisPort, redisPid, serverPid: -1 });
  const serverPid = startServer(port, redisPort);
  writeState({ baseURL, redisPort, redisPid, serverPid });
  await waitFor(
    async () => {
      try {
        return (await fetch(`${baseURL}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    60_000,
    `the shaplab server at ${baseURL} (see target/e2e/server.log)`,
  );
}
