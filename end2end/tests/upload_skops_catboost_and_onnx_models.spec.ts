import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, test, watchProblems } from './support';

const fixture = (...parts: string[]) => path.join(repoRoot, 'fixtures', ...parts);

async function explain(page: import('@playwright/test').Page, model: string, data: string, format: string) {
  await openHydrated(page, '/');
  await page.getByTestId('file-model').setInputFiles(model);
  const zone = page.getByTestId('drop-model');
  await expect(zone).toHaveAttribute('data-state', 'done');
  await expect(zone.getByTestId('upload-summary')).toContainText(format);
  await page.getByTestId('file-data').setInputFiles(data);
  await expect(page.getByTestId('drop-data')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('incompatible')).toHaveCount(0);
}

async function submitAndWait(page: import('@playwright/test').Page) {
  await page.getByTestId('submit').click();
  await page.waitForURL(/\/jobs\/[\w-]+$/);
  await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(page.getByTestId('plot-importance').locator('svg g.bar').first()).toBeAttached();
}

test('an analyst explains a scikit-learn forest saved with skops, one output per class', async ({ page }) => {
  const problems = watchProblems(page);
  await explain(page, fixture('sk_rf_clf2', 'model.skops'), fixture('sk_rf_clf2', 'data.csv'), 'scikit-learn (skops)');
  await expect(page.getByTestId('drop-model').getByTestId('upload-summary')).toContainText('2 outputs');
  await submitAndWait(page);
  await expect(page.getByTestId('input-notes')).toContainText('covers stored in the model');
  await expect(page.getByTestId('class-select')).toBeVisible();
  expect(problems).toEqual([]);
});

test('an analyst explains a CatBoost model with a one-hot categorical feature', async ({ page }) => {
  const problems = watchProblems(page);
  await explain(page, fixture('cb_logloss_onehot', 'model.json'), fixture('cb_logloss_onehot', 'data.csv'), 'CatBoost JSON');
  await expect(page.getByTestId('drop-model').getByTestId('upload-summary')).toContainText('categorical');
  await submitAndWait(page);
  expect(problems).toEqual([]);
});

test('an ONNX model, which stores no covers, is explained interventionally and says so', async ({ page }) => {
  const problems = watchProblems(page);
  await explain(page, fixture('onnx_rf_reg', 'model.onnx'), fixture('onnx_rf_reg', 'data.csv'), 'ONNX');
  await expect(page.getByTestId('drop-model').getByTestId('upload-summary')).toContainText('covers: none stored');
  await expect(page.getByTestId('interventional-note')).toBeVisible();
  await submitAndWait(page);
  await expect(page.getByTestId('input-notes')).toContainText('Interventional TreeSHAP against 100 sampled background rows');
  expect(problems).toEqual([]);
});
