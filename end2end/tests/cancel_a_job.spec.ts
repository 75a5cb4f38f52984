import { expect, openHydrated, submitSlowJob, test, watchProblems } from './support';

test('Cancel stops a running job and the page says so', async ({ page, request }) => {
  const problems = watchProblems(page);
  const id = await submitSlowJob(request);
  await openHydrated(page, `/jobs/${id}`);
  const state = page.getByTestId('job-state');
  await expect(state).toHaveAttribute('data-state', 'running', { timeout: 30_000 });
  await expect(page.getByTestId('job-progress-words')).toContainText(/ of 8,000 rows/);
  await page.getByTestId('cancel').click();
  await expect(state).toHaveAttribute('data-state', 'cancelled', { timeout: 15_000 });
  await expect(state).toContainText('Cancelled');
  await expect(page.getByTestId('cancel')).toHaveCount(0);
  const job = await (await request.get(`/api/jobs/${id}`)).json();
  expect(job.state).toBe('cancelled');
  expect(job.progress.rows_done).toBeLessThan(8_000);
  expect(problems).toEqual([]);
});
