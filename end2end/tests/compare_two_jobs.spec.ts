import { expect, multiclass, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('comparing two jobs shows importance side by side, the mean SHAP shift and both prediction distributions', async ({
  page,
  request,
}) => {
  const problems = watchProblems(page);
  const a = await submitJob(request, sample);
  const b = await submitJob(request, sample, { output: 'probability' });
  await waitForJob(request, a, 'succeeded');
  await waitForJob(request, b, 'succeeded');
  const summary = await (await request.get(`/api/jobs/${a}/summary`)).json();

  await openHydrated(page, `/compare?a=${a}&b=${b}`);
  await expect(page.getByTestId('compare-a')).toContainText(`Job A: ${a}`);
  await expect(page.getByTestId('compare-b')).toContainText('probability output');
  await expect(page.getByTestId('plot-compare-importance').locator('svg g.pair')).toHaveCount(15);
  await expect(page.getByTestId('compare-table').locator('tbody tr')).toHaveCount(summary.features.length);
  await expect(page.getByTestId('plot-compare-predictions').locator('svg polyline')).toHaveCount(2);
  expect(problems).toEqual([]);
});

test('jobs with different features are refused on the page in words', async ({ page, request }) => {
  const problems = watchProblems(page);
  const a = await submitJob(request, sample);
  const b = await submitJob(request, multiclass);
  await waitForJob(request, a, 'succeeded');
  await waitForJob(request, b, 'succeeded');
  await openHydrated(page, `/compare?a=${a}&b=${b}`);
  await expect(page.getByTestId('compare-error')).toContainText('compare jobs');
  expect(problems.filter((p) => !p.includes('status of 422'))).toEqual([]);
});
