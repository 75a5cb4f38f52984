import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, test, watchProblems } from './support';

const binary = path.resolve(process.env.SHAPLAB_BIN ?? path.join(repoRoot, 'target', 'debug', 'shaplab'));

test('with interaction values on, the job shows the interaction heatmap and offers their CSV', async ({
  page,
}, testInfo) => {
  const problems = watchProblems(page);
  await openHydrated(page, '/');
  await page.getByTestId('file-model').setInputFiles(sample.model);
  await page.getByTestId('file-data').setInputFiles(sample.data);
  await expect(page.getByTestId('drop-data')).toHaveAttribute('data-state', 'done');
  // Only for the raw output without background rows.
  await page.getByTestId('background-rows').fill('20');
  await expect(page.getByTestId('interactions')).toBeDisabled();
  await page.getByTestId('background-rows').fill('');
  await page.getByTestId('interactions').check();
  await page.getByTestId('submit').click();
  await page.waitForURL(/\/jobs\/[\w-]+$/);
  await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 90_000 });

  await page.getByTestId('tab-interactions').click();
  await expect(page).toHaveURL(/section=interactions/);
  const heatmap = page.getByTestId('plot-interactions');
  // The 15 most important of the 30 features: 15 × 15 cells.
  await expect(heatmap.locator('svg rect[stroke="#fff"]')).toHaveCount(225);
  await expect(heatmap.locator('svg desc')).toContainText('the strongest pair is');

  const id = page.url().split('/jobs/')[1].split('?')[0];
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-interactions').click()]);
  const cliShap = testInfo.outputPath('shap.csv');
  const cliInteractions = testInfo.outputPath('interactions.csv');
  execFileSync(binary, [
    'explain', '--model', sample.model, '--data', sample.data, '--out', cliShap, '--interactions', cliInteractions,
  ]);
  expect(fs.readFileSync((await csv.path())!, 'utf8')).toBe(fs.readFileSync(cliInteractions, 'utf8'));
  expect(id).toMatch(/^p\d+-/);
  expect(problems).toEqual([]);
});
