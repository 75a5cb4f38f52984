import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('picking a row shows its waterfall and force plot, ending at the model’s own prediction', async ({
  page,
  request,
}) => {
  const problems = watchProblems(page);
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  // xgboost's own margin for row 3 (written by scripts/gen_fixtures.py).
  const margins = fs
    .readFileSync(path.join(repoRoot, 'fixtures', 'xgb_binary_d6', 'margin.csv'), 'utf8')
    .trim()
    .split('\n');
  const expected = Number(margins[3]);

  await openHydrated(page, `/jobs/${id}?section=row`);
  await page.getByTestId('row-input').fill('3');
  await page.getByTestId('row-show').click();
  await expect(page).toHaveURL(/row=3/);
  const waterfall = page.getByTestId('plot-waterfall');
  await expect(waterfall.locator('svg')).toBeVisible();
  const fx = await waterfall.locator('svg text', { hasText: 'f(x) =' }).textContent();
  expect(Number(fx!.replace('f(x) =', '').trim())).toBeCloseTo(expected, 3);
  // Nine features and the rest summed.
  await expect(waterfall.locator('svg g.step')).toHaveCount(10);
  await expect(page.getByTestId('plot-force').locator('svg polygon').first()).toBeVisible();
  await expect(page.getByTestId('row-prediction')).toContainText('Prediction: raw output');

  // The probability scale, and a row past the end explained in words.
  await page.getByTestId('scale-select').selectOption('probability');
  await expect(page.getByTestId('row-prediction')).toContainText('Prediction: probability');
  const shown = await page.getByTestId('row-prediction').textContent();
  expect(Number(shown!.replace('Prediction: probability', '').trim())).toBeCloseTo(
    1 / (1 + Math.exp(-expected)),
    3,
  );
  await page.getByTestId('row-input').fill('60');
  await page.getByTestId('row-show').click();
  await expect(page.getByTestId('row-error')).toContainText('past the end');
  expect(problems.filter((p) => !p.includes('status of 404'))).toEqual([]);
});

test('the ranking finds the row with the highest prediction', async ({ page, request }) => {
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  // Opened without a row, the explorer shows the highest prediction at once.
  const top = (await (await request.get(`/api/jobs/${id}/ranked?limit=1`)).json()).rows[0].row;
  await openHydrated(page, `/jobs/${id}?section=row`);
  await expect(page).toHaveURL(new RegExp(`row=${top}`));
  await expect(page.getByTestId('row-input')).toHaveValue(String(top));
  await expect(page.getByTestId('plot-waterfall').locator('svg')).toContainText(`Why row ${top} gets its prediction`);
  await page.getByTestId('rank-highest').click();
  const ranking = page.getByTestId('ranking');
  await expect(ranking.locator('tbody tr')).toHaveCount(10);
  const predictions = await ranking.locator('tbody tr td:nth-child(2)').allTextContents();
  const values = predictions.map(Number);
  expect([...values].sort((a, b) => b - a)).toEqual(values);
  await ranking.locator('tbody tr').first().getByRole('button').click();
  await expect(page.getByTestId('plot-waterfall').locator('svg')).toBeVisible();
});

test('a row number typed before the automatic first row arrives is the one shown', async ({ page, request }) => {
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  const top = (await (await request.get(`/api/jobs/${id}/ranked?limit=1`)).json()).rows[0].row;
  expect(top).not.toBe(3);
  // Hold the explorer's "highest prediction" request until the person has typed a number: the
  // order a slow network gives, which CI met once.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\/ranked\?.*limit=1(&|$)/, async (route) => {
    await held;
    await route.continue();
  });
  await openHydrated(page, `/jobs/${id}?section=row`);
  await page.getByTestId('row-input').fill('3');
  const answered = page.waitForEvent('requestfinished', (r) => r.url().includes('/ranked?'));
  release();
  await answered;
  // Let the page handle the answer before the click (a task or two; 300 ms is ample).
  await page.waitForTimeout(300);
  await expect(page.getByTestId('row-input')).toHaveValue('3');
  await page.getByTestId('row-show').click();
  await expect(page).toHaveURL(/row=3(&|$)/);
  await expect(page.getByTestId('plot-waterfall').locator('svg')).toContainText('Why row 3 gets its prediction');
});
