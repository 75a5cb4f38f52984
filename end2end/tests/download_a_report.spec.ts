import { expect, openHydrated, sample, submitJob, test, waitForJob, watchProblems } from './support';

test('the job page offers a self-contained report that opens without fetching anything', async ({
  page,
  request,
}) => {
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  await openHydrated(page, `/jobs/${id}?cohort=mean_radius%3E%3D15`);
  // The page names the files and the options under its title.
  await expect(page.getByTestId('input-files')).toContainText('Model: model.json (XGBoost JSON');
  await expect(page.getByTestId('input-files')).toContainText('Data: data.csv (');
  await expect(page.getByTestId('input-files')).toContainText('Explains: raw output');
  // The additivity check, over every row, is on the page too.
  await expect(page.getByTestId('additivity')).toContainText('Additivity check: base value + ΣSHAP differs');
  await expect(page.getByTestId('additivity')).toContainText('over 60 rows');
  const link = page.getByTestId('download-report');
  const href = await link.getAttribute('href');
  expect(href).toBe(`/api/jobs/${id}/report.html?class=0&cohort=mean_radius%3E%3D15`);

  // Opened on its own, the report draws its plots and asks the network for nothing else.
  const problems = watchProblems(page);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(href!);
  await expect(page.locator('h1')).toContainText(`SHAP report — job ${id}`);
  await expect(page.locator('figure svg')).toHaveCount(7);
  await expect(page.locator('body')).toContainText('over the 26 rows of the cohort mean_radius>=15');
  await expect(page.locator('body')).toContainText('Additivity');
  expect(requests).toEqual([page.url()]);
  expect(problems).toEqual([]);
});
