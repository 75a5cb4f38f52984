// Measures the page on a large job (issue 5's "Scale"): the summary's size and the time the
// job page takes to show its plots. Not part of the test suite (it runs for minutes); run it
// with scripts/ui-scale.sh, which starts a server for it.
//
//   BASE=http://127.0.0.1:PORT ROWS=1000000 node perf/large_job.mjs

import { chromium } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

const base = process.env.BASE;
const rows = Number(process.env.ROWS ?? 1_000_000);
const repo = path.resolve(import.meta.dirname, '..', '..');
const fixture = path.join(repo, 'fixtures', 'xgb_reg_d3');
const csv = path.join(repo, 'target', 'e2e', `diabetes-${rows}.csv`);

if (!fs.existsSync(csv)) {
  const [header, ...lines] = fs.readFileSync(path.join(fixture, 'data.csv'), 'utf8').trim().split('\n');
  // Shorter numbers keep the file well under the upload limit; missing cells stay missing.
  const short = lines.map((l) => l.split(',').map((c) => (c === '' ? '' : Number(c).toPrecision(5))).join(','));
  fs.mkdirSync(path.dirname(csv), { recursive: true });
  const out = fs.openSync(csv, 'w');
  fs.writeSync(out, header + '\n');
  for (let i = 0; i < rows; i += 10_000) {
    const block = [];
    for (let j = i; j < Math.min(rows, i + 10_000); j++) block.push(short[j % short.length]);
    fs.writeSync(out, block.join('\n') + '\n');
  }
  fs.closeSync(out);
}

async function upload(kind, file) {
  const form = new FormData();
  form.append('kind', kind);
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  const r = await fetch(`${base}/api/uploads`, { method: 'POST', body: form });
  if (r.status !== 201) throw new Error(`upload ${kind}: ${r.status} ${await r.text()}`);
  return (await r.json()).id;
}

const t0 = Date.now();
const model = await upload('model', path.join(fixture, 'model.json'));
const data = await upload('data', csv);
const submitted = await fetch(`${base}/api/jobs`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, data }),
});
const job = await submitted.json();
console.log(`uploaded ${fs.statSync(csv).size} bytes and submitted job ${job.id} in ${Date.now() - t0} ms`);
let state = job.state;
while (!['succeeded', 'failed', 'cancelled'].includes(state)) {
  await new Promise((r) => setTimeout(r, 2_000));
  const j = await (await fetch(`${base}/api/jobs/${job.id}`)).json();
  state = j.state;
  process.stdout.write(`\r${j.progress.rows_done} / ${j.progress.rows_total} rows`);
}
console.log(`\njob ${state} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const summary = Buffer.from(await (await fetch(`${base}/api/jobs/${job.id}/summary`)).arrayBuffer());
console.log(`summary: ${summary.length} bytes (${gzipSync(summary).length} gzipped) for ${rows} rows`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
let pageBytes = 0;
page.on('response', async (r) => {
  try {
    pageBytes += (await r.body()).length;
  } catch {}
});
const t1 = Date.now();
await page.goto(`${base}/jobs/${job.id}`);
await page.getByTestId('plot-importance').locator('svg').waitFor({ timeout: 60_000 });
const importanceMs = Date.now() - t1;
const t2 = Date.now();
await page.getByTestId('tab-beeswarm').click();
await page.getByTestId('plot-beeswarm').locator('svg').waitFor({ timeout: 60_000 });
const beeswarmMs = Date.now() - t2;
// Responsiveness: how long a click on another tab takes to show its plot.
const t3 = Date.now();
await page.getByTestId('tab-dependence').click();
await page.getByTestId('plot-dependence').locator('svg').waitFor({ timeout: 60_000 });
const dependenceMs = Date.now() - t3;
const t4 = Date.now();
await page.getByTestId('tab-row').click();
await page.getByTestId('row-input').fill(String(rows - 1));
await page.getByTestId('row-show').click();
await page.getByTestId('plot-waterfall').locator('svg').waitFor({ timeout: 60_000 });
const rowMs = Date.now() - t4;
const dots = await page.evaluate(() => document.querySelectorAll('svg circle').length);
console.log(
  `page: ${pageBytes} bytes downloaded in all; importance shown ${importanceMs} ms after navigation, ` +
    `beeswarm ${beeswarmMs} ms after its click, dependence ${dependenceMs} ms, last row's waterfall ${rowMs} ms`,
);
await browser.close();
