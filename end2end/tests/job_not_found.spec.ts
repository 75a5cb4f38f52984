import { expect, openHydrated, test } from './support';

test('a job id the server does not know is explained, with a way back', async ({ page }) => {
  await openHydrated(page, '/jobs/p0-000000000000000000000000');
  const gone = page.getByTestId('job-not-found');
  await expect(gone).toContainText('This job does not exist here');
  // Nothing cached in this browser: the page offers the start page rather than a resubmit.
  await expect(gone.getByRole('link', { name: 'Upload the files again' })).toHaveAttribute('href', '/');
  await expect(page.getByTestId('results')).toHaveCount(0);
});
