import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, test, watchProblems } from './support';

// Most tabular models have category columns: a LightGBM model trained on a pandas DataFrame
// with `category` columns, explained from a CSV whose city column holds the words.
const dir = path.join(repoRoot, 'fixtures', 'lgb_cat_binary');

test('an analyst uploads a categorical LightGBM model with a CSV of words and sees categories in every plot', async ({
  page,
}) => {
  const problems = watchProblems(page);
  await openHydrated(page, '/');
  await expect(page.getByTestId('how-to-save')).toContainText('skops.io.dump(model, "model.skops")');

  await page.getByTestId('file-model').setInputFiles(path.join(dir, 'model.txt'));
  const model = page.getByTestId('drop-model');
  await expect(model).toHaveAttribute('data-state', 'done');
  await expect(model.getByTestId('upload-summary')).toContainText('city: categorical (paris, oslo');
  await expect(model.getByTestId('upload-summary')).toContainText('covers: stored in the model');

  await page.getByTestId('file-data').setInputFiles(path.join(dir, 'data_unseen.csv'));
  const data = page.getByTestId('drop-data');
  await expect(data).toHaveAttribute('data-state', 'done');
  await expect(data.getByTestId('upload-summary')).toContainText('city: words (');
  // A word the model never saw is named before submit, with how it is routed.
  await expect(page.getByTestId('unseen-categories')).toContainText('city: 1 category the model never saw');
  await expect(page.getByTestId('incompatible')).toHaveCount(0);

  await page.getByTestId('submit').click();
  await page.waitForURL(/\/jobs\/[\w-]+$/);
  await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });

  // The dependence plot of city is one strip per category, named on the axis.
  await page.getByTestId('tab-dependence').click();
  await page.getByTestId('dependence-feature').selectOption('city');
  const dependence = page.getByTestId('plot-dependence');
  await expect(dependence.locator('svg')).toContainText('city (categories)');
  await expect(dependence.locator('svg text', { hasText: /^paris$/ })).toHaveCount(1);

  // The beeswarm colours categories, not a false low → high scale.
  await page.getByTestId('tab-beeswarm').click();
  await expect(page.getByTestId('plot-beeswarm').locator('svg')).toContainText('one colour per category');

  // The row explorer shows the category's name (row 1: a city the model knows).
  const [header, , second] = fs.readFileSync(path.join(dir, 'data_unseen.csv'), 'utf8').split('\n');
  const city = second.split(',')[header.split(',').indexOf('city')];
  expect(city).toBe('tokyo');
  await page.getByTestId('tab-row').click();
  await page.getByTestId('row-input').fill('1');
  await page.getByTestId('row-show').click();
  const waterfall = page.getByTestId('plot-waterfall');
  await expect(waterfall.locator('svg')).toBeVisible();
  await waterfall.getByText('Show as table').click();
  const cityRow = waterfall.locator('table tbody tr', { hasText: /^city/ });
  await expect(cityRow.locator('td').nth(1)).toHaveText(city);
  expect(problems).toEqual([]);
});
