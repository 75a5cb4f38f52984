import { expect, multiclass, openHydrated, submitJob, test, waitForJob } from './support';

test('the class selector switches every plot to that class and lands in the link', async ({ page, request }) => {
  const id = await submitJob(request, multiclass);
  await waitForJob(request, id, 'succeeded');
  const summary = await (await request.get(`/api/jobs/${id}/summary`)).json();
  expect(summary.outputs).toBe(3);
  const topOf = (k: number) => {
    const means: number[] = summary.mean_abs_shap[k];
    return summary.features[means.indexOf(Math.max(...means))] as string;
  };

  await openHydrated(page, `/jobs/${id}`);
  const select = page.getByTestId('class-select');
  await expect(select.locator('option')).toHaveCount(3);
  const firstBar = page.getByTestId('plot-importance').locator('svg g.bar').first().locator('title');
  await expect(firstBar).toContainText(`${topOf(0)}: mean |SHAP|`);
  await expect(page.getByTestId('plot-importance').locator('figcaption')).toContainText('class 0');

  await select.selectOption('2');
  await expect(page).toHaveURL(/class=2/);
  await expect(firstBar).toContainText(`${topOf(2)}: mean |SHAP|`);
  await expect(page.getByTestId('plot-importance').locator('figcaption')).toContainText('class 2');
  const means2: number[] = summary.mean_abs_shap[2];
  const top2 = Math.max(...means2);
  await expect(firstBar).toContainText(String(Number(top2.toPrecision(4))));

  // The class applies to the row explorer too: the waterfall ends at class 2's margin.
  await page.getByTestId('tab-row').click();
  await page.getByTestId('row-input').fill('0');
  await page.getByTestId('row-show').click();
  const row = await (await request.get(`/api/jobs/${id}/rows/0`)).json();
  const fx = await page.getByTestId('plot-waterfall').locator('svg text', { hasText: 'f(x) =' }).textContent();
  expect(Number(fx!.replace('f(x) =', '').trim())).toBeCloseTo(row.predictions.margin[2], 3);
});
