import { restartRedis, stopRedis } from '../harness/redis';
import { expect, openHydrated, submitSlowJob, test, watchProblems } from './support';

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
