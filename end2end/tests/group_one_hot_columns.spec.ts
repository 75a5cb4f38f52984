import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, submitJob, test, waitForJob, watchProblems } from './support';

const dir = path.join(repoRoot, 'fixtures', 'xgb_onehot_groups');

test('one-hot columns are shown as one feature in every plot and in the download', async ({ page, request }) => {
  const problems = watchProblems(page);
  const id = await submitJob(request, { model: path.join(dir, 'model.json'), data: path.join(dir, 'data.csv') });
  await waitForJob(request, id, 'succeeded');
  await openHydrated(page, `/jobs/${id}`);
  await page.getByTestId('groups-input').fill('auto');
  await page.getByTestId('cohort-apply').click();
  await expect(page.getByTestId('cohort-status')).toContainText('grouped: color:color_blue,color_green,color_red; size:');
  await expect(page).toHaveURL(/groups=auto/);
  const importance = page.getByTestId('plot-importance');
  await importance.getByText('Show as table').click();
  const labels = await importance.locator('table tbody tr td:first-child').allTextContents();
  expect(labels).toContain('color');
  expect(labels).not.toContain('color_red');
  await expect(page.getByTestId('download-csv')).toHaveAttribute('href', `/api/jobs/${id}/shap.csv?groups=auto`);
  const csv = await (await request.get(`/api/jobs/${id}/shap.csv?groups=auto`)).text();
  expect(csv.split('\n')[0]).toBe('mean_a,mean_b,x,flag_x,color,size,base_value');
  expect(problems).toEqual([]);
});
