import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

// Rows of the sample whose mean radius is at least 15, counted from the CSV itself.
function expectedRows(): number {
  const [header, ...rows] = fs
    .readFileSync(path.join(repoRoot, 'public', 'sample', 'data.csv'), 'utf8')
    .trim()
    .split('\n');
  const at = header.split(',').indexOf('mean_radius');
  return rows.filter((r) => {
    const cell = r.split(',')[at];
    return cell !== '' && Number(cell) >= 15;
  }).length;
}

test('a cohort filters every view, rides in the link, and two cohorts compare with intervals', async ({
  page,
  request,
}) => {
  const problems = watchProblems(page, [422]);
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  const rows = expectedRows();
  expect(rows).toBeGreaterThan(0);
  expect(rows).toBeLessThan(60);

  await openHydrated(page, `/jobs/${id}`);
  // A misspelt feature is explained and changes nothing.
  await page.getByTestId('cohort-input').fill('mean_radious>=15');
  await page.getByTestId('cohort-apply').click();
  await expect(page.getByTestId('cohort-error')).toContainText('no feature "mean_radious"');
  await expect(page).not.toHaveURL(/cohort=/);

  await page.getByTestId('cohort-input').fill('mean_radius>=15');
  await page.getByTestId('cohort-apply').click();
  await expect(page.getByTestId('cohort-status')).toHaveText(`${rows} of 60 rows match`);
  await expect(page.getByTestId('cohort-error')).toHaveCount(0);
  await expect(page).toHaveURL(/cohort=mean_radius%3E%3D15/);
  await expect(page.getByTestId('coverage')).toContainText(`over the ${rows} rows of the cohort mean_radius>=15`);
  await expect(page.getByTestId('plot-importance').locator('svg')).toBeVisible();
  await page.getByTestId('tab-beeswarm').click();
  await expect(page.getByTestId('plot-beeswarm').locator('svg')).toBeVisible();

  // The ranking holds only the cohort's rows.
  await page.getByTestId('tab-row').click();
  await page.getByTestId('rank-highest').click();
  await expect(page.getByTestId('ranking').locator('tbody tr')).toHaveCount(Math.min(10, rows));

  // Two cohorts: the filter's and every row, each bar with its interval.
  await page.getByTestId('tab-cohorts').click();
  await expect(page.getByTestId('cohort-a')).toHaveValue('mean_radius>=15');
  await page.getByTestId('cohort-compare-run').click();
  await expect(page.getByTestId('cohort-compare-rows')).toContainText(`A (mean_radius>=15): ${rows} rows · B (every row): 60 rows`);
  const plot = page.getByTestId('plot-cohorts').locator('svg');
  await expect(plot.locator('g.pair')).toHaveCount(12);
  await expect(plot.locator('line.interval')).toHaveCount(24);

  // The link reopens the same cohort.
  await openHydrated(page, page.url().replace(/section=\w+&?/, ''));
  await expect(page.getByTestId('cohort-input')).toHaveValue('mean_radius>=15');
  await expect(page.getByTestId('cohort-status')).toHaveText(`${rows} of 60 rows match`);

  await page.getByTestId('cohort-clear').click();
  await expect(page.getByTestId('cohort-status')).toHaveText('');
  await expect(page).not.toHaveURL(/cohort=/);
  expect(problems).toEqual([]);
});
