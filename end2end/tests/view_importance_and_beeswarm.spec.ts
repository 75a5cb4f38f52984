import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('the importance bars and the beeswarm show the job, with captions, tables and a colour-blind palette', async ({
  page,
  request,
}) => {
  const problems = watchProblems(page);
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  const summary = await (await request.get(`/api/jobs/${id}/summary`)).json();

  await openHydrated(page, `/jobs/${id}`);
  const importance = page.getByTestId('plot-importance');
  await expect(importance.locator('svg g.bar')).toHaveCount(11);
  // The top bar is the feature with the largest mean |SHAP| in the summary.
  const means: number[] = summary.mean_abs_shap[0];
  const top = summary.features[means.indexOf(Math.max(...means))];
  await expect(importance.locator('svg g.bar').first().locator('title')).toContainText(`${top}: mean |SHAP|`);
  await expect(importance.locator('figcaption')).toContainText('mean |SHAP value|');
  await importance.getByText('Show as table').click();
  await expect(importance.locator('table tbody tr')).toHaveCount(11);
  await expect(importance.locator('title').first()).toHaveText('Feature importance (mean |SHAP value|)');

  await page.getByTestId('tab-beeswarm').click();
  await expect(page).toHaveURL(/section=beeswarm/);
  const beeswarm = page.getByTestId('plot-beeswarm');
  const shown = Math.min(12, summary.beeswarm.features.length);
  await expect(beeswarm.locator('svg circle')).toHaveCount(shown * summary.beeswarm.size);
  await expect(beeswarm.locator('svg')).toContainText('Feature value');
  await expect(beeswarm.locator('figcaption')).toContainText('every row shown, over all 60 rows');
  // shap's red for the highest value of a feature…
  await expect(beeswarm.locator('svg circle[fill="#ff0051"]').first()).toBeAttached();
  // …and viridis once the colour-blind-safe palette is on.
  await page.getByTestId('palette-cb').check();
  await expect(page).toHaveURL(/palette=cb/);
  await expect(beeswarm.locator('svg circle[fill="#ff0051"]')).toHaveCount(0);
  await expect(beeswarm.locator('svg circle[fill="#fde725"]').first()).toBeAttached();
  expect(problems).toEqual([]);
});
