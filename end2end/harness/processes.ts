// The processes the end-to-end suite owns: a redis-server on a free loopback port and the
// shaplab server pointed at it. Their ports and pids live in a state file so the specs (which
// run in a worker process) can stop and restart Redis, and teardown can stop everything.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
const stateDir = path.join(repoRoot, 'target', 'e2e');
const statePath = path.join(stateDir, 'state.json');

export interface HarnessState {
  baseURL: string;
  redisPort: number;
  redisPid: number | null;
  serverPid: number;
}

export function readState(): HarnessState {
  return JSON.parse(fs.readFileSync(statePath, 'utf8')) as HarnessState;
}

export function writeState(state: HarnessState): void {
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function logFile(name: string): number {
  fs.mkdirSync(stateDir, { recursive: true });
  return fs.openSync(path.join(stateDir, name), 'a');
}

/** Where the suite's Redis keeps its append-only file (emptied by global setup). */
export const redisDataDir = path.join(stateDir, 'redis-data');

/** Starts a redis-server on `port` with AOF on, as production runs it, so a spec that stops
 * and restarts Redis mid-job sees the queue come back, not an empty server; returns its pid. */
export async function startRedis(port: number): Promise<number> {
  const log = logFile('redis.log');
  fs.mkdirSync(redisDataDir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--bind', '127.0.0.1', '--port', String(port), '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', redisDataDir,
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  await waitFor(() => canConnect(port), 10_000, `redis-server on port ${port}`);
  return child.pid ?? -1;
}

/** Stops the process `pid` and waits until `port` no longer accepts connections. */
export async function stopProcess(pid: number, port: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  await waitFor(async () => !(await canConnect(port)), 10_000, `process ${pid} to stop`);
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The shaplab binary the suite runs: `SHAPLAB_BIN`, else the debug build. */
export function shaplabBinary(): string {
  // Relative to where the suite was started (end2end/), not to the server's working directory.
  const binary = path.resolve(process.env.SHAPLAB_BIN ?? path.join(repoRoot, 'target', 'debug', 'shaplab'));
  if (!fs.existsSync(binary)) {
    throw new Error(`no shaplab binary at ${binary}: run \`make test\` (or set SHAPLAB_BIN)`);
  }
  return binary;
}

/** Starts the shaplab server against the Redis on `redisPort`; returns its pid. */
export function startServer(
  port: number,
  redisPort: number,
  extraEnv: Record<string, string> = {},
  extraArgs: string[] = [],
): number {
  return startServerWith(port, redisPort, extraEnv, { args: extraArgs });
}

/** Starts a shaplab server with `env` over the suite's defaults (a spec's own server, e.g. one
 * with sign-in on), logging to `log` under target/e2e; returns its pid. */
export function startServerWith(
  port: number,
  redisPort: number,
  env: Record<string, string>,
  options: { args?: string[]; log?: string } = {},
): number {
  const binary = shaplabBinary();
  const log = logFile(options.log ?? 'server.log');
  const child = spawn(binary, ['serve', '--port', String(port), ...(options.args ?? [])], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      // Short, so an outage shows within a couple of seconds of the page's next check.
      REDIS_TIMEOUT: '1',
      // Small enough that bad_upload_is_explained can send a file over it quickly.
      MAX_UPLOAD_BYTES: String(8 * 1024 * 1024),
      LEPTOS_SITE_ROOT: 'target/site',
      ...env,
    },
  });
  child.on('error', (error) => console.error(`shaplab server: ${error.message}`));
  child.unref();
  return child.pid ?? -1;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a shaplab command (`user add alice`) to its end, with `stdin` as its input. */
export function runCli(args: string[], stdin: string, env: Record<string, string> = {}): CliResult {
  const result = spawnSync(shaplabBinary(), args, {
    cwd: repoRoot,
    input: stdin,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
