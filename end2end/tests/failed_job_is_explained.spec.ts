import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, test, upload, watchProblems } from './support';

test('a job that fails says why in words and what to do', async ({ page, request }) => {
  const problems = watchProblems(page);
  const model = await upload(request, 'model', sample.model);
  const data = await upload(request, 'data', sample.data);
  // The data file disappears between upload and explanation (a retention policy, a full
  // disk): the worker cannot read it. Local blob store layout: .shaplab/blobs/uploads/{id}/.
  fs.rmSync(path.join(repoRoot, '.shaplab', 'blobs', 'uploads', data, 'data.csv'));
  const response = await request.post('/api/jobs', { data: { model, data } });
  expect(response.status()).toBe(201);
  const id = (await response.json()).id;

  await openHydrated(page, `/jobs/${id}`);
  const state = page.getByTestId('job-state');
  await expect(state).toHaveAttribute('data-state', 'failed', { timeout: 60_000 });
  await expect(state).toContainText('Failed');
  await expect(page.getByTestId('job-error')).toContainText(
    'is no longer stored; upload the file again and resubmit the job',
  );
  await expect(page.getByTestId('cancel')).toHaveCount(0);
  await expect(page.getByTestId('results')).toHaveCount(0);
  expect(problems).toEqual([]);
});
