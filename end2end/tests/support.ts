// What the analyst-facing specs share: the fixture files, a slow job, jobs made through the
// API (for specs about the results rather than the uploads), and console watching that
// tolerates the failed requests an outage produces on purpose.

import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readState, repoRoot } from '../harness/processes';

/** Playwright's `test` with `baseURL` (and so `page.goto('/')` and `request`) pointed at the
 * server the harness started. */
export const test = base.extend({
  // eslint-disable-next-line no-empty-pattern
  baseURL: async ({}, use) => {
    await use(readState().baseURL);
  },
});
export { expect };

export const sample = {
  model: path.join(repoRoot, 'public', 'sample', 'model.json'),
  data: path.join(repoRoot, 'public', 'sample', 'data.csv'),
};

export const multiclass = {
  model: path.join(repoRoot, 'fixtures', 'xgb_multi_d4', 'model.json'),
  data: path.join(repoRoot, 'fixtures', 'xgb_multi_d4', 'data.csv'),
};

/** The sample data repeated to `rows` rows (written once under target/e2e). */
export function repeatedSample(rows: number): string {
  const out = path.join(repoRoot, 'target', 'e2e', `sample-${rows}.csv`);
  if (!fs.existsSync(out)) {
    const [header, ...lines] = fs.readFileSync(sample.data, 'utf8').trim().split('\n');
    const body = Array.from({ length: rows }, (_, i) => lines[i % lines.length]);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, [header, ...body].join('\n') + '\n');
  }
  return out;
}

export async function upload(
  request: APIRequestContext,
  kind: 'model' | 'data',
  file: string,
): Promise<string> {
  const response = await request.post('/api/uploads', {
    multipart: {
      kind,
      file: { name: path.basename(file), mimeType: 'application/octet-stream', buffer: fs.readFileSync(file) },
    },
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).id as string;
}

/** Submits a job through the API and returns its id. */
export async function submitJob(
  request: APIRequestContext,
  files: { model: string; data: string },
  options: Record<string, unknown> = {},
): Promise<string> {
  const model = await upload(request, 'model', files.model);
  const data = await upload(request, 'data', files.data);
  const response = await request.post('/api/jobs', { data: { model, data, ...options } });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).id as string;
}

/** A job that runs for tens of seconds on this machine (debug build): 8,000 rows against 3,000
 * background rows on the probability scale. The engine groups background rows per leaf, so
 * raw interventional values barely grow with the background; the probability scale's
 * per-row rescaling still sums over every background row reaching a leaf. */
export async function submitSlowJob(request: APIRequestContext): Promise<string> {
  return submitJob(
    request,
    { model: sample.model, data: repeatedSample(8_000) },
    { background_rows: 3_000, output: 'probability' },
  );
}

export async function waitForJob(request: APIRequestContext, id: string, state: string, timeoutMs = 60_000) {
  await expect
    .poll(async () => (await (await request.get(`/api/jobs/${id}`)).json()).state, { timeout: timeoutMs })
    .toBe(state);
}

export async function openHydrated(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Console errors and page errors, minus the failed-request lines an outage causes on purpose
 * (`expectedStatuses`, e.g. [503]). */
export function watchProblems(page: Page, expectedStatuses: number[] = []): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (expectedStatuses.some((s) => text.includes(`status of ${s}`))) return;
    if (expectedStatuses.length > 0 && text.includes('net::ERR_')) return;
    problems.push(`console: ${text}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return problems;
}
