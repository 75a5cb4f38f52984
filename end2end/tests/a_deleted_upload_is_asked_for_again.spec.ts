import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, test, watchProblems } from './support';

// Accepted uploads are remembered across visits, but the server deletes uploads unused for
// UPLOAD_TTL (a week by default). A returning analyst must hear at once which file has to be
// chosen again, not at Submit.
test('an upload the server no longer has is asked for again on the next visit', async ({ page }) => {
  // The lookup of the deleted upload is a 404 the page expects; nothing else may fail.
  const problems = watchProblems(page, [404]);
  await openHydrated(page, '/');
  await page.getByTestId('file-model').setInputFiles(sample.model);
  await page.getByTestId('file-data').setInputFiles(sample.data);
  const model = page.getByTestId('drop-model');
  const data = page.getByTestId('drop-data');
  await expect(model).toHaveAttribute('data-state', 'done');
  await expect(data).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('submit')).toBeEnabled();

  // What the server's upload sweep does once the model went unused for UPLOAD_TTL: its
  // directory in the blob store (the harness server's data dir is .shaplab/) is deleted.
  const stored = await page.evaluate(() => localStorage.getItem('shaplab.start.model'));
  const id = JSON.parse(stored ?? '{}').id as string;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  const dir = path.join(repoRoot, '.shaplab', 'blobs', 'uploads', id);
  expect(fs.existsSync(dir)).toBe(true);
  fs.rmSync(dir, { recursive: true });

  await page.reload();
  await expect(model).toHaveAttribute('data-state', 'gone');
  await expect(model.getByTestId('upload-error')).toContainText('model.json');
  await expect(model.getByTestId('upload-error')).toContainText('no longer stored');
  // The data file is still there and stays accepted; Submit waits for a model.
  await expect(data).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('submit')).toBeDisabled();

  // Choosing the file again is all it takes, and a later visit does not complain again.
  await page.getByTestId('file-model').setInputFiles(sample.model);
  await expect(model).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('submit')).toBeEnabled();
  await page.reload();
  await expect(model).toHaveAttribute('data-state', 'done');
  expect(problems).toEqual([]);
});
