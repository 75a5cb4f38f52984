import { expect, openHydrated, sample, submitJob, test, waitForJob } from './support';

test('a copied link reopens the same section, feature, colouring and row', async ({ page, browser, request }) => {
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  await openHydrated(page, `/jobs/${id}`);
  await page.getByTestId('tab-dependence').click();
  await page.getByTestId('dependence-feature').selectOption('worst_area');
  await page.getByTestId('dependence-colour').selectOption('mean_texture');
  await expect(page).toHaveURL(/section=dependence&feature=worst_area&colour=mean_texture/);
  const link = page.url();

  // A colleague opens the link in a fresh browser (no shared storage).
  const other = await (await browser.newContext()).newPage();
  await openHydrated(other, link);
  await expect(other.getByTestId('tab-dependence')).toHaveAttribute('aria-selected', 'true');
  await expect(other.getByTestId('dependence-feature')).toHaveValue('worst_area');
  await expect(other.getByTestId('dependence-colour')).toHaveValue('mean_texture');
  await expect(other.getByTestId('plot-dependence').locator('svg title').first()).toHaveText(
    'Dependence of the SHAP value on worst_area',
  );
  await expect(other.getByTestId('plot-dependence').locator('svg')).toContainText('mean_texture');

  await openHydrated(other, `/jobs/${id}?section=row&row=7&scale=probability`);
  await expect(other.getByTestId('row-input')).toHaveValue('7');
  await expect(other.getByTestId('plot-waterfall').locator('svg')).toContainText('Why row 7 gets its prediction');
  await expect(other.getByTestId('row-prediction')).toContainText('Prediction: probability');
});
