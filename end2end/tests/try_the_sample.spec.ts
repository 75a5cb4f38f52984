import { expect, openHydrated, test, watchProblems } from './support';

test('one click on "Try the sample" runs the bundled model and shows plots', async ({ page }) => {
  const problems = watchProblems(page);
  await openHydrated(page, '/');
  await page.getByTestId('try-sample').click();
  await page.waitForURL(/\/jobs\/[\w-]+$/, { timeout: 30_000 });
  await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  const importance = page.getByTestId('plot-importance');
  await expect(importance.locator('svg')).toBeVisible();
  // Ten features and the sum of the other twenty.
  await expect(importance.locator('svg g.bar')).toHaveCount(11);
  await expect(importance.locator('svg')).toContainText('Sum of 20 other features');
  expect(problems).toEqual([]);
});
