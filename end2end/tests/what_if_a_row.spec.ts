import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('editing a row’s values shows the new prediction, waterfall and force plot, flagging values the data never held', async ({
  page,
  request,
}) => {
  const problems = watchProblems(page);
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  const row = await (await request.get(`/api/jobs/${id}/rows/3`)).json();
  const first = row.features[0].name as string;
  // The engine's answer for the same edit, to check the page draws it.
  const answer = await request.post(`/api/jobs/${id}/whatif`, { data: { row: 3, values: { [first]: 1000 } } });
  expect(answer.status()).toBe(200);
  const expected = (await answer.json()).predictions.margin[0] as number;
  expect(Math.abs(expected - row.predictions.margin[0])).toBeGreaterThan(0);

  await openHydrated(page, `/jobs/${id}?section=row&row=3`);
  await expect(page.getByTestId('plot-waterfall').locator('svg')).toBeVisible();
  const whatif = page.getByTestId('whatif');
  await whatif.getByTestId('whatif-run').click();
  await expect(whatif.getByTestId('whatif-error')).toContainText('Change at least one value');

  await whatif.getByTestId('whatif-0').fill('1000');
  await whatif.getByTestId('whatif-run').click();
  await expect(whatif.getByTestId('whatif-changed')).toHaveText(`Changed: ${first}`);
  await expect(whatif.getByTestId('whatif-notes')).toContainText(`${first} = 1000 is outside the values the data holds`);
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
