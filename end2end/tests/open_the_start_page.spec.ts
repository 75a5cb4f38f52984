import { expect, test } from '@playwright/test';
import { baseURL } from '../harness/redis';
import { watchConsole } from './console';

test('the start page is rendered by the server, hydrates, and shows the service ready', async ({
  page,
  request,
}) => {
  // Server-side rendering: the HTML arrives complete, before any wasm runs.
  const html = await (await request.get(`${baseURL()}/`)).text();
  expect(html).toContain('Explain your tree models');
  expect(html).toContain('Checking service…');

  const problems = watchConsole(page);
  await page.goto(`${baseURL()}/`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page).toHaveTitle(/shaplab/);
  const status = page.getByTestId('service-status');
  await expect(status).toHaveAttribute('data-state', 'healthy');
  await expect(status).toContainText('Service ready');
  await expect(page.getByTestId('outage-banner')).toHaveCount(0);
  expect(problems).toEqual([]);
});

test('an unknown address gets a friendly page and status 404', async ({ page }) => {
  const response = await page.goto(`${baseURL()}/no/such/page`);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.getByRole('link', { name: 'Go to the start page' }).click();
  await expect(page.getByRole('heading', { name: 'Explain your tree models' })).toBeVisible();
});
