import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('editing a row’s values shows the new prediction, waterfall and force plot, flagging values the data never held', async ({
  page,
  request,
}) => {
  const problems = watchProblems(page);
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  const row = await (await request.get(`/api/jobs/${id}/rows/3`)).json();
  // The engine's answer for an edit that moves the prediction (the row's strongest feature,
  // pushed far outside the data), to check the page draws it.
  const order = row.features
    .map((f: { shap: number[] }, j: number) => [Math.abs(f.shap[0]), j])
    .sort((a: number[], b: number[]) => b[0] - a[0]);
  let edit: { j: number; value: number; margin: number } | undefined;
  for (const [, j] of order) {
    for (const value of [1000, -1000]) {
      const answer = await request.post(`/api/jobs/${id}/whatif`, {
        data: { row: 3, values: { [row.features[j].name]: value } },
      });
      expect(answer.status()).toBe(200);
      const margin = (await answer.json()).predictions.margin[0] as number;
      if (!edit && Math.abs(margin - row.predictions.margin[0]) > 1e-6) edit = { j, value, margin };
    }
    if (edit) break;
  }
  expect(edit).toBeDefined();
  const { j, value, margin: expected } = edit!;
  const name = row.features[j].name as string;

  await openHydrated(page, `/jobs/${id}?section=row&row=3`);
  await expect(page.getByTestId('plot-waterfall').locator('svg')).toBeVisible();
  const whatif = page.getByTestId('whatif');
  await whatif.getByTestId('whatif-run').click();
  await expect(whatif.getByTestId('whatif-error')).toContainText('Change at least one value');

  await whatif.getByTestId(`whatif-${j}`).fill(String(value));
  await whatif.getByTestId('whatif-run').click();
  await expect(whatif.getByTestId('whatif-changed')).toHaveText(`Changed: ${name}`);
  await expect(whatif.getByTestId('whatif-notes')).toContainText(`${name} = ${value} is outside the values the data holds`);
  const waterfall = whatif.getByTestId('plot-whatif-waterfall');
  await expect(waterfall.locator('svg')).toBeVisible();
  const fx = await waterfall.locator('svg text', { hasText: 'f(x) =' }).textContent();
  expect(Number(fx!.replace('f(x) =', '').trim())).toBeCloseTo(expected, 3);
  await expect(whatif.getByTestId('plot-whatif-force').locator('svg polygon').first()).toBeVisible();
  await expect(whatif.getByTestId('whatif-prediction')).toContainText('Prediction: raw output');
  // The original row's plots stay on the page beside the variant.
  await expect(page.getByTestId('plot-waterfall').locator('svg')).toBeVisible();

  await whatif.getByTestId('whatif-0').fill('many');
  await whatif.getByTestId('whatif-run').click();
  await expect(whatif.getByTestId('whatif-error')).toContainText('is not a number');
  await whatif.getByTestId('whatif-reset').click();
  await expect(whatif.getByTestId('whatif-error')).toHaveCount(0);
  expect(problems).toEqual([]);
});
