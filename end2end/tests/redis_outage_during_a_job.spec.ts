import { restartRedis, stopRedis } from '../harness/redis';
import { expect, openHydrated, sample, submitSlowJob, test, watchProblems } from './support';

test.afterEach(async () => {
  await restartRedis(); // leave Redis up for the next spec, whatever happened here
});

test('Redis stops mid-job: the banner appears, the last known status stays, and the job completes after recovery', async ({
  page,
  request,
}) => {
  test.setTimeout(240_000);
  const problems = watchProblems(page, [503]);
  const id = await submitSlowJob(request);
  await openHydrated(page, `/jobs/${id}`);
  const state = page.getByTestId('job-state');
  await expect(state).toHaveAttribute('data-state', 'running', { timeout: 30_000 });
  // Partial results appear from the finished chunks while the job runs.
  await expect(page.getByTestId('coverage')).toContainText(/based on [\d,]+ of 8,000 rows so far/, {
    timeout: 30_000,
  });

  await stopRedis();
  const banner = page.getByTestId('outage-banner');
  await expect(banner).toBeVisible({ timeout: 20_000 });
  await expect(banner).toContainText('The job queue is temporarily unreachable');
  // The page keeps the last known status and results, and says how old they are.
  await expect(page.getByTestId('stale-note')).toContainText(/Last update .* we keep checking/, { timeout: 20_000 });
  await expect(state).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('plot-importance').locator('svg')).toBeVisible();
  // A reload during the outage still shows them (the browser's cache).
  const before = await page.getByTestId('job-progress-words').textContent();
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(state).toHaveAttribute('data-state', 'running');
  await expect(page.getByTestId('job-progress-words')).toHaveText(before ?? '');
  await expect(page.getByTestId('coverage')).toContainText('based on');

  await restartRedis();
  await expect(state).toHaveAttribute('data-state', 'succeeded', { timeout: 150_000 });
  await expect(banner).toBeHidden({ timeout: 40_000 });
  await expect(page.getByTestId('stale-note')).toHaveCount(0);
  await expect(page.getByTestId('coverage')).toContainText('over all 8,000 rows');
  expect(problems).toEqual([]);
});

test('with the queue down, Submit says why it is disabled and the uploads survive a reload', async ({ page }) => {
  await openHydrated(page, '/');
  await page.getByTestId('file-model').setInputFiles(sample.model);
  await page.getByTestId('file-data').setInputFiles(sample.data);
  await expect(page.getByTestId('drop-data')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('submit')).toBeEnabled();

  await stopRedis();
  await expect(page.getByTestId('outage-banner')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByTestId('submit')).toBeDisabled();
  await expect(page.getByTestId('submit-why')).toContainText('The job queue is unreachable right now');
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('drop-model')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('drop-data')).toHaveAttribute('data-state', 'done');

  await restartRedis();
  await expect(page.getByTestId('submit')).toBeEnabled({ timeout: 40_000 });
  await page.getByTestId('submit').click();
  await page.waitForURL(/\/jobs\/[\w-]+$/);
  await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
});

test('the page tells a dead server and an offline browser apart from a queue outage', async ({ page, context }) => {
  await openHydrated(page, '/');
  await expect(page.getByTestId('service-status')).toHaveAttribute('data-state', 'healthy');
  // A proxy's HTML error page in front of a dead server.
  await page.route('**/api/health', (route) =>
    route.fulfill({ status: 502, contentType: 'text/html', body: '<html>Bad Gateway</html>' }),
  );
  const banner = page.getByTestId('outage-banner');
  await expect(banner).toHaveAttribute('data-state', 'server-unreachable', { timeout: 30_000 });
  await expect(banner).toContainText('The shaplab server is not answering');
  await page.unroute('**/api/health');
  await expect(banner).toBeHidden({ timeout: 40_000 });

  await context.setOffline(true);
  await expect(banner).toHaveAttribute('data-state', 'offline', { timeout: 40_000 });
  await expect(banner).toContainText('You are offline');
  await context.setOffline(false);
  await expect(banner).toBeHidden({ timeout: 40_000 });
});
