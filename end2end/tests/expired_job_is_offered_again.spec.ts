import { freePort, readState, startServer, stopProcess, waitFor } from '../harness/processes';
import { expect, openHydrated, sample, submitJob, test, waitForJob } from './support';

test('an expired job says so and runs again with the same files in one click', async ({ page, request }) => {
  test.setTimeout(90_000);
  // A second server on the suite's Redis that keeps results for 8 s only (no workers of its
  // own: the suite's server runs the jobs).
  const { redisPort } = readState();
  const port = await freePort();
  const pid = startServer(port, redisPort, { RESULT_TTL: '8s' }, ['--workers', '0']);
  const short = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${short}/healthz`).catch(() => null))?.ok ?? false, 30_000, 'the second server');
    const id = await submitJob(request, sample);
    await waitForJob(request, id, 'succeeded');
    // The analyst looks at the job while it is fresh (the browser keeps what it saw)…
    await openHydrated(page, `${short}/jobs/${id}`);
    await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded');
    // …and comes back after the results have expired.
    await expect
      .poll(async () => (await fetch(`${short}/api/jobs/${id}`)).status, { timeout: 30_000, intervals: [1_000] })
      .toBe(410);
    await page.reload();
    const gone = page.getByTestId('job-expired');
    await expect(gone).toContainText("This job's results have expired");
    await gone.getByTestId('resubmit').click();
    await page.waitForURL((url) => url.pathname.startsWith('/jobs/') && !url.pathname.endsWith(id));
    await expect(page.getByTestId('job-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
    await expect(page.getByTestId('coverage')).toContainText('over all 60 rows');
  } finally {
    await stopProcess(pid, port);
  }
});
