// The team service end to end, on a server of its own with sign-in on (SHAPLAB_AUTH=users;
// the suite's shared server runs without): Alice signs in, runs a job, finds and renames it in
// "Your jobs", shares it with a link Bob can read but not change, revokes the link, makes an
// API key a script uses, deletes the job and signs out. Bob, signed in on his own account,
// never sees Alice's job except through the link.
//
// Every page is watched for console errors and for Content-Security-Policy violations (the
// pages run under a strict policy: scripts from the site and the page's nonce only).

import { request as apiRequest, type BrowserContext, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canConnect, freePort, readState, runCli, startServerWith, stopProcess, waitFor } from '../harness/processes';
import { expect, openHydrated, sample, test, waitForJob, watchProblems } from './support';

const alice = { user: 'alice', password: 'correct horse battery staple' };
const bob = { user: 'bob', password: 'tr0ub4dor-and-3' };

let server: { pid: number; port: number; baseURL: string } | undefined;

function baseURL(): string {
  if (!server) throw new Error('the users-mode server did not start');
  return server.baseURL;
}

test.beforeAll(async () => {
  const { redisPort } = readState();
  const redis = { REDIS_URL: `redis://127.0.0.1:${redisPort}/0` };
  for (const who of [alice, bob]) {
    // The password on the first line of stdin (repeated, should the command ask to confirm).
    const made = runCli(['user', 'add', who.user], `${who.password}\n${who.password}\n`, redis);
    expect(made.status, `shaplab user add ${who.user}:\n${made.stdout}${made.stderr}`).toBe(0);
  }
  const port = await freePort();
  const pid = startServerWith(
    port,
    redisPort,
    { ...redis, SHAPLAB_AUTH: 'users', PORT: String(port), SHAPLAB_WORKERS: '1' },
    { log: 'server-users.log' },
  );
  server = { pid, port, baseURL: `http://127.0.0.1:${port}` };
  await waitFor(() => canConnect(port), 60_000, `the users-mode server on port ${port} (see target/e2e/server-users.log)`);
});

test.afterAll(async () => {
  if (server && server.pid > 0) await stopProcess(server.pid, server.port);
});

interface Watched {
  page: Page;
  problems: string[];
}

/** A page whose console errors and CSP violations end up in `problems` (violations are also
 * kept in `window.__cspViolations`, per document). */
async function watchedPage(context: BrowserContext, expectedStatuses: number[]): Promise<Watched> {
  const page = await context.newPage();
  const problems = watchProblems(page, expectedStatuses);
  // A binding outlives navigations, where the page's own array starts again with each document.
  await page.exposeBinding('__reportCspViolation', (_source, text: string) => {
    problems.push(`csp: ${text}`);
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __cspViolations: string[]; __reportCspViolation?: (text: string) => void };
    w.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      const text = `${e.effectiveDirective} blocked ${e.blockedURI || 'inline code'} at ${e.sourceFile}:${e.lineNumber}`;
      w.__cspViolations.push(text);
      w.__reportCspViolation?.(text);
    });
  });
  return { page, problems };
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
}

/** The header the server checks on every change a browser asks for: the CSRF cookie's value. */
async function csrf(context: BrowserContext): Promise<Record<string, string>> {
  const cookie = (await context.cookies()).find((c) => c.name === 'shaplab_csrf');
  if (!cookie) throw new Error('the server set no shaplab_csrf cookie on its pages');
  return { 'x-csrf-token': cookie.value };
}

async function uploadAs(context: BrowserContext, kind: 'model' | 'data', file: string): Promise<string> {
  const response = await context.request.post('/api/uploads', {
    headers: await csrf(context),
    multipart: {
      kind,
      file: { name: path.basename(file), mimeType: 'application/octet-stream', buffer: fs.readFileSync(file) },
    },
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).id as string;
}

async function signIn(page: Page, who: { user: string; password: string }): Promise<void> {
  await openHydrated(page, '/signin');
  await page.getByTestId('signin-user').fill(who.user);
  await page.getByTestId('signin-password').fill(who.password);
  await page.getByTestId('signin-submit').click();
  await page.waitForURL((url) => url.pathname !== '/signin');
  await expect(page.getByTestId('me-user')).toHaveText(who.user);
}

test('a team signs in, keeps jobs private, shares one read-only, and scripts the API with a key', async ({
  browser,
}) => {
  test.setTimeout(240_000);
  const contextA = await browser.newContext({ baseURL: baseURL() });
  const contextB = await browser.newContext({ baseURL: baseURL() });
  // Alice meets 401s on purpose (a wrong password, /api/me once signed out); Bob also 404s
  // (Alice's job, her uploads behind a share link, the revoked link).
  const a = await watchedPage(contextA, [401]);
  const b = await watchedPage(contextB, [401, 404]);
  let id = '';

  await test.step('a signed-out visitor is sent to the sign-in page, and a wrong password is refused', async () => {
    await a.page.goto('/');
    await a.page.waitForURL(/\/signin(\?|$)/);
    await expect(a.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(a.page.getByTestId('me-user')).toHaveCount(0);
    await a.page.getByTestId('signin-user').fill(alice.user);
    await a.page.getByTestId('signin-password').fill('not her password');
    await a.page.getByTestId('signin-submit').click();
    await expect(a.page.getByTestId('signin-error')).toContainText('do not match');
    await expect(a.page).toHaveURL(/\/signin/);
  });

  await test.step('Alice signs in and comes back to where she was going', async () => {
    await a.page.getByTestId('signin-password').fill(alice.password);
    await a.page.getByTestId('signin-submit').click();
    await a.page.waitForURL((url) => url.pathname === '/');
    await expect(a.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(a.page.getByTestId('me-user')).toHaveText('alice');
    await expect(a.page.getByTestId('nav-jobs')).toHaveAttribute('href', '/jobs');
    await expect(a.page.getByTestId('nav-keys')).toHaveAttribute('href', '/account');
    await expect(a.page.getByTestId('sign-out')).toBeVisible();
  });

  await test.step('a change without the CSRF header is refused, with it the job runs', async () => {
    const forged = await contextA.request.post('/api/keys', { data: { label: 'forged' } });
    expect(forged.status(), await forged.text()).toBe(403);
    const model = await uploadAs(contextA, 'model', sample.model);
    const data = await uploadAs(contextA, 'data', sample.data);
    const submitted = await contextA.request.post('/api/jobs', { headers: await csrf(contextA), data: { model, data } });
    expect(submitted.status(), await submitted.text()).toBe(201);
    id = (await submitted.json()).id as string;
    await waitForJob(contextA.request, id, 'succeeded');
  });

  await test.step('Alice finds the job in "Your jobs", renames it and searches for it', async () => {
    await openHydrated(a.page, '/jobs');
    await expect(a.page.getByRole('heading', { name: 'Your jobs' })).toBeVisible();
    await expect(a.page.getByTestId('jobs-table')).toBeVisible();
    const row = a.page.locator(`[data-testid="job-item"][data-job="${id}"]`);
    await expect(row).toContainText('model.json');
    await expect(row).toContainText('data.csv');
    await expect(row).toContainText('done');
    await expect(row).toContainText('60');
    await expect(row.getByTestId('job-link')).toHaveAttribute('href', `/jobs/${id}`);
    await expect(a.page.getByTestId('jobs-page')).toContainText('page 1 of 1');

    await row.getByTestId('job-rename').click();
    await row.getByTestId('job-rename-input').fill('Breast cancer sample');
    await row.getByTestId('job-rename-save').click();
    await expect(row.getByTestId('job-link')).toHaveText('Breast cancer sample');
    const listed = await (await contextA.request.get('/api/jobs?q=breast')).json();
    expect(listed.jobs.map((j: { id: string }) => j.id)).toEqual([id]);

    await a.page.getByTestId('jobs-search').fill('no such job anywhere');
    await expect(a.page.getByTestId('jobs-empty')).toContainText('No job matches');
    await a.page.getByTestId('jobs-search').fill('breast');
    await expect(a.page.getByTestId('job-item')).toHaveCount(1);
  });

  await test.step("Bob signs in on his own account and cannot see Alice's job", async () => {
    await signIn(b.page, bob);
    expect((await contextB.request.get(`/api/jobs/${id}`)).status()).toBe(404);
    const his = await (await contextB.request.get('/api/jobs')).json();
    expect(his.total).toBe(0);
    await openHydrated(b.page, `/jobs/${id}`);
    await expect(b.page.getByTestId('job-not-found')).toContainText('This job does not exist here');
    await expect(b.page.getByTestId('results')).toHaveCount(0);
  });

  let shareUrl = '';
  await test.step('Alice makes a share link on the job page', async () => {
    await openHydrated(a.page, `/jobs/${id}`);
    await expect(a.page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded');
    await expect(a.page.getByTestId('shared-note')).toHaveCount(0);
    const panel = a.page.getByTestId('share-panel');
    await expect(panel.getByTestId('shares-empty')).toBeVisible();
    await panel.getByTestId('share-expiry').selectOption('168');
    await panel.getByTestId('share-create').click();
    const link = panel.getByTestId('share-url');
    await expect(link).toHaveValue(new RegExp(`^${escapeRegExp(baseURL())}/s/[\\w-]{20,}$`));
    shareUrl = await link.inputValue();
    await expect(panel.getByTestId('share-item')).toHaveCount(1);
    await expect(panel.getByTestId('share-item')).toContainText('expires in');
  });

  await test.step('Bob opens the link and reads the results, with nothing to change', async () => {
    await b.page.goto(shareUrl);
    await b.page.waitForURL(new RegExp(`/jobs/${id}`));
    await expect(b.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    // The token went into a cookie, not the address bar.
    expect(b.page.url()).not.toContain('/s/');
    await expect(b.page.getByTestId('shared-note')).toHaveText('Shared with you (read-only)');
    await expect(b.page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded');
    await expect(b.page.getByTestId('plot-importance').locator('svg g.bar')).toHaveCount(11);
    await expect(b.page.getByTestId('share-panel')).toHaveCount(0);
    await expect(b.page.getByTestId('cancel')).toHaveCount(0);
    expect((await contextB.request.get(`/api/jobs/${id}`)).status()).toBe(200);
    // Read-only: the link lets Bob neither list its siblings nor delete the job.
    expect((await contextB.request.get(`/api/jobs/${id}/shares`)).status()).toBe(404);
    const deleted = await contextB.request.delete(`/api/jobs/${id}?purge=true`, { headers: await csrf(contextB) });
    expect(deleted.status()).toBe(404);
  });

  await test.step('Alice revokes the link and Bob loses the job', async () => {
    const panel = a.page.getByTestId('share-panel');
    await panel.getByTestId('share-revoke').click();
    await expect(panel.getByTestId('share-item')).toHaveCount(0);
    await expect(panel.getByTestId('share-url')).toHaveCount(0);
    expect((await contextB.request.get(`/api/jobs/${id}`)).status()).toBe(404);
    await b.page.reload();
    await expect(b.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(b.page.getByTestId('job-not-found')).toBeVisible();
    // What the browser had kept of the results is forgotten too.
    await expect(b.page.getByTestId('results')).toHaveCount(0);
    await expect(b.page.getByTestId('shared-note')).toHaveCount(0);
  });

  await test.step('Alice makes an API key, and a script with only the key lists her jobs', async () => {
    await openHydrated(a.page, '/account');
    await expect(a.page.getByRole('heading', { name: 'API keys' })).toBeVisible();
    await expect(a.page.getByTestId('keys-empty')).toBeVisible();
    await a.page.getByTestId('key-label').fill('nightly report');
    await a.page.getByTestId('key-create').click();
    const secret = a.page.getByTestId('key-secret');
    await expect(secret).toHaveValue(/^\S{20,}$/);
    const key = await secret.inputValue();
    await expect(a.page.getByText('Copy it now: it is not shown again')).toBeVisible();
    await expect(a.page.getByTestId('key-curl')).toHaveText(
      `curl -H "Authorization: Bearer ${key}" ${baseURL()}/api/jobs`,
    );
    await expect(a.page.getByTestId('key-item')).toHaveCount(1);
    await expect(a.page.getByTestId('key-item')).toContainText('nightly report');

    const script = await apiRequest.newContext({ baseURL: baseURL() });
    try {
      const listed = await script.get('/api/jobs', { headers: { Authorization: `Bearer ${key}` } });
      expect(listed.status(), await listed.text()).toBe(200);
      const jobs = (await listed.json()).jobs as { id: string; label: string | null }[];
      expect(jobs.find((j) => j.id === id)?.label).toBe('Breast cancer sample');
      expect((await script.get('/api/jobs')).status()).toBe(401);
    } finally {
      await script.dispose();
    }

    // The secret is shown once: the list keeps only the label.
    await a.page.reload();
    await expect(a.page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(a.page.getByTestId('key-item')).toHaveCount(1);
    await expect(a.page.getByTestId('key-secret')).toHaveCount(0);
    const keys = await (await contextA.request.get('/api/keys')).json();
    expect(keys).toHaveLength(1);
    expect(keys[0].key ?? null).toBeNull();
  });

  await test.step('Alice deletes the job for good, after confirming', async () => {
    await openHydrated(a.page, '/jobs');
    const row = a.page.locator(`[data-testid="job-item"][data-job="${id}"]`);
    await row.getByTestId('job-delete').click();
    await row.getByTestId('job-delete-confirm').click();
    await expect(a.page.getByTestId('jobs-empty')).toContainText('No jobs yet');
    await expect(a.page.getByTestId('jobs-empty').getByRole('link', { name: 'start one' })).toHaveAttribute('href', '/');
    expect((await contextA.request.get(`/api/jobs/${id}`)).status()).toBe(404);
  });

  await test.step('signing out ends the session', async () => {
    await a.page.getByTestId('sign-out').click();
    await a.page.waitForURL(/\/signin(\?|$)/);
    expect((await contextA.request.get('/api/me')).status()).toBe(401);
  });

  for (const watched of [a, b]) {
    expect(await cspViolations(watched.page)).toEqual([]);
    expect(watched.problems).toEqual([]);
  }
  await contextA.close();
  await contextB.close();
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
