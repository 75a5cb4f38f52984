import { expect, openHydrated, sample, test, watchProblems } from './support';

test('an analyst uploads a model and a CSV, sees what they hold, and gets a finished job', async ({ page }) => {
  const problems = watchProblems(page);
  await openHydrated(page, '/');
  const submit = page.getByTestId('submit');
  await expect(submit).toBeDisabled();
  await expect(page.getByTestId('submit-why')).toHaveText('Upload a model and a data file first.');

  await page.getByTestId('file-model').setInputFiles(sample.model);
  const model = page.getByTestId('drop-model');
  await expect(model).toHaveAttribute('data-state', 'done');
  await expect(model.getByTestId('upload-summary')).toContainText('XGBoost JSON · binary:logistic');
  await expect(model.getByTestId('upload-summary')).toContainText('30 features, 1 output');

  await page.getByTestId('file-data').setInputFiles(sample.data);
  const data = page.getByTestId('drop-data');
  await expect(data).toHaveAttribute('data-state', 'done');
  await expect(data.getByTestId('upload-summary')).toContainText('60 rows × 30 columns');
  await expect(page.getByTestId('incompatible')).toHaveCount(0);

  await expect(submit).toBeEnabled();
  // A double click must not make two jobs: the Idempotency-Key is the same for both.
  await submit.dblclick();
  await page.waitForURL(/\/jobs\/[\w-]+$/);
  await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(page.getByTestId('job-progress-words')).toContainText('60 of 60 rows');
  await expect(page.getByTestId('coverage')).toContainText('over all 60 rows');
  expect(problems).toEqual([]);
});
