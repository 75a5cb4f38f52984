import { expect, test } from '@playwright/test';
import { baseURL, restartRedis, stopRedis } from '../harness/redis';
import { watchConsole } from './console';

test.afterEach(async () => {
  await restartRedis(); // leave Redis up for the next spec, whatever happened here
});

test('the banner appears while Redis is down and goes away by itself when it returns', async ({
  page,
}) => {
  const problems = watchConsole(page);
  await page.goto(`${baseURL()}/`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const status = page.getByTestId('service-status');
  const banner = page.getByTestId('outage-banner');
  await expect(status).toHaveAttribute('data-state', 'healthy');
  await expect(banner).toHaveCount(0);

  await stopRedis();
  // The page checks every ~5 s while healthy; the server answers within REDIS_TIMEOUT (1 s).
  await expect(banner).toBeVisible({ timeout: 20_000 });
  await expect(banner).toContainText(
    "The job queue is temporarily unreachable — your work is safe; we'll keep checking",
  );
  await expect(banner).toContainText(/next check in \d+ s|checking now/);
  await expect(status).toHaveAttribute('data-state', 'queue-down');
  await expect(banner.getByRole('button', { name: 'Check now' })).toBeVisible();

  await restartRedis();
  // No click: the backoff's next check finds Redis back (delays are 1, 2, 4… s, ±20 %).
  await expect(banner).toBeHidden({ timeout: 40_000 });
  await expect(status).toHaveAttribute('data-state', 'healthy');
  expect(problems).toEqual([]);
});

test('"Check now" rechecks at once instead of waiting for the countdown', async ({ page }) => {
  await page.goto(`${baseURL()}/`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const banner = page.getByTestId('outage-banner');
  await expect(page.getByTestId('service-status')).toHaveAttribute('data-state', 'healthy');

  await stopRedis();
  await expect(banner).toBeVisible({ timeout: 20_000 });
  // Let the backoff grow past a few seconds so "waiting it out" would be visibly slower.
  await expect(banner).toContainText(/next check in ([4-9]|\d\d) s/, { timeout: 30_000 });
  await restartRedis();
  await banner.getByRole('button', { name: 'Check now' }).click();
  await expect(banner).toBeHidden({ timeout: 3_000 });
});
