import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, test } from './support';

test('a file that is not a model is refused with a reason', async ({ page }) => {
  await openHydrated(page, '/');
  await page.getByTestId('file-model').setInputFiles({
    name: 'notes.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"hello": "world"}'),
  });
  const zone = page.getByTestId('drop-model');
  await expect(zone).toHaveAttribute('data-state', 'refused');
  await expect(zone.getByTestId('upload-error')).toContainText('notes.json was not accepted:');
  await expect(page.getByTestId('submit')).toBeDisabled();
});

test('data without the model’s columns is flagged before submit, naming the columns', async ({ page }) => {
  await openHydrated(page, '/');
  await page.getByTestId('file-model').setInputFiles(sample.model);
  await page.getByTestId('file-data').setInputFiles(
    path.join(repoRoot, 'fixtures', 'xgb_multi_d4', 'data.csv'), // another model's columns
  );
  await expect(page.getByTestId('drop-data')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('incompatible')).toContainText(/the data lacks 30 columns the model needs: mean_radius, /);
  await expect(page.getByTestId('submit')).toBeDisabled();
  await expect(page.getByTestId('submit-why')).toContainText('Cannot explain: the data lacks 30 columns');
});

test('an oversized file is refused with the limit in words', async ({ page }) => {
  await openHydrated(page, '/');
  // The harness caps uploads at 8 MiB.
  await page.getByTestId('file-data').setInputFiles({
    name: 'huge.csv',
    mimeType: 'text/csv',
    buffer: Buffer.alloc(9 * 1024 * 1024, 'a'),
  });
  const zone = page.getByTestId('drop-data');
  await expect(zone).toHaveAttribute('data-state', 'refused', { timeout: 30_000 });
  await expect(zone.getByTestId('upload-error')).toContainText(/huge\.csv was not accepted: .*(MiB|MB|bytes)/);
});
