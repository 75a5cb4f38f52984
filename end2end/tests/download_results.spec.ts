import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../harness/processes';
import { expect, openHydrated, sample, submitJob, test, waitForJob } from './support';

const binary = path.resolve(process.env.SHAPLAB_BIN ?? path.join(repoRoot, 'target', 'debug', 'shaplab'));

test('the SHAP values CSV is exactly what `shaplab explain` writes, and the JSON bundle describes the job', async ({
  page,
  request,
}, testInfo) => {
  const id = await submitJob(request, sample);
  await waitForJob(request, id, 'succeeded');
  await openHydrated(page, `/jobs/${id}`);

  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()]);
  expect(csv.suggestedFilename()).toBe(`shap-${id}.csv`);
  const downloaded = fs.readFileSync((await csv.path())!, 'utf8');
  const cliOut = testInfo.outputPath('cli.csv');
  execFileSync(binary, ['explain', '--model', sample.model, '--data', sample.data, '--out', cliOut]);
  expect(downloaded).toBe(fs.readFileSync(cliOut, 'utf8'));
  expect(downloaded.split('\n').filter(Boolean)).toHaveLength(61);

  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-json').click()]);
  const bundle = JSON.parse(fs.readFileSync((await json.path())!, 'utf8'));
  expect(bundle.job.id).toBe(id);
  expect(bundle.model.name).toBe('model.json');
  expect(bundle.model.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(bundle.data.name).toBe('data.csv');
  expect(bundle.options.output).toBe('raw');
  expect(bundle.engine_version).toMatch(/^\d+\.\d+\.\d+/);
  expect(bundle.summary.rows_covered).toBe(60);

  const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('plot-importance-svg').click()]);
  const markup = fs.readFileSync((await svg.path())!, 'utf8');
  expect(markup.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(markup).toContain('Feature importance');

  const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('plot-importance-png').click()]);
  const bytes = fs.readFileSync((await png.path())!);
  expect([...bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]); // ‰PNG
  expect(bytes.length).toBeGreaterThan(5_000);
});
