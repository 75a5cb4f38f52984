import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('the decision plot, the heatmap and partial dependence with ICE lines are drawn', async ({ page, request }) => {
  const problems = watchProblems(page);
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  await openHydrated(page, `/jobs/${id}?section=decision`);
  // 60 rows: one line each.
  await expect(page.getByTestId('plot-decision').locator('svg polyline.decision')).toHaveCount(60);
  await page.getByTestId('tab-heatmap').click();
  const heatmap = page.getByTestId('plot-heatmap').locator('svg');
  await expect(heatmap.locator('g.feature-row')).toHaveCount(12);
  await expect(heatmap.locator('polyline.fx')).toHaveCount(1);
  await page.getByTestId('heatmap-order').selectOption('similarity');
  await expect(page.getByTestId('plot-heatmap')).toContainText('similar');

  await page.getByTestId('tab-pdp').click();
  const pdp = page.getByTestId('plot-pdp').locator('svg');
  await expect(pdp.locator('polyline.ice')).toHaveCount(50);
  await expect(pdp.locator('polyline.average')).toHaveCount(1);
  // 30 features: the picker is searchable.
  await page.getByTestId('pdp-filter').fill('TEXTURE');
  await expect(page.getByTestId('pdp-feature').locator('option', { hasText: 'mean_radius' })).toHaveCount(0);
  await page.getByTestId('pdp-feature').selectOption('mean_texture');
  await expect(pdp).toContainText('mean_texture');
  expect(problems).toEqual([]);
});
