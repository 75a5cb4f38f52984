//! `GET /api/jobs/{id}/report.html`: the job's self-contained HTML report (see
//! [`crate::jobs::report`]). Query: `class=k` (the output every plot shows, default 0),
//! `rows=3,17` (rows drawn as waterfalls, at most 10; default the highest and the lowest
//! prediction), `cohort=<conditions>` (the report of a cohort), `a=`/`b=` (two cohorts to
//! compare; one given compares it with every row).

use super::error::ApiError;
use super::jobs::{finished_chunks, read_error, view};
use crate::jobs::rank_query::{Order, RankBy, RankQuery};
use crate::jobs::read::ReadError;
use crate::jobs::report::{ReportInputs, render};
use crate::startup::AppState;
use crate::uploads::UploadId;
use app::wire::{JobRow, JobSummary, Upload};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Most rows drawn in one report.
const MAX_ROWS: usize = 10;

#[derive(Default)]
struct Query {
    class: usize,
    rows: Option<Vec<u64>>,
    cohort: String,
    groups: String,
    a: Option<String>,
    b: Option<String>,
}

fn parse(query: Option<&str>) -> Result<Query, ApiError> {
    let invalid =
        |m: String| ApiError::invalid(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m);
    let mut q = Query::default();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "class" => {
                q.class = value
                    .parse()
                    .map_err(|_| invalid(format!("class={value:?}: an output index")))?
            }
            "rows" => {
                let rows = value
                    .split(',')
                    .filter(|r| !r.trim().is_empty())
                    .map(|r| r.trim().parse::<u64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        invalid(format!("rows={value:?}: row numbers joined by commas"))
                    })?;
                if rows.len() > MAX_ROWS {
                    return Err(invalid(format!(
                        "rows: at most {MAX_ROWS} rows in one report"
                    )));
                }
                q.rows = Some(rows);
            }
            "cohort" => q.cohort = value.into_owned(),
            "groups" => q.groups = value.into_owned(),
            "a" => q.a = Some(value.into_owned()),
            "b" => q.b = Some(value.into_owned()),
            other => {
                return Err(invalid(format!(
                    "unexpected parameter {other:?}; the report takes class, rows, cohort, groups, a and b"
                )));
            }
        }
    }
    Ok(q)
}

async fn upload(state: &AppState, id: &str) -> Option<Upload> {
    state.uploads.get(UploadId::parse(id)?).await.ok()
}

pub async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(query.as_deref())?;
    let (status, spec, results) = finished_chunks(&state, &id).await?;
    if status.rows_done == 0 {
        return Err(read_error(ReadError::NotFinished(
            "no chunk of this job has finished yet; the report needs results".into(),
        )));
    }
    let (blobs, scratch) = (&state.uploads.blobs, &state.uploads.scratch);
    let json = crate::jobs::summary_cache::summary_json(
        blobs,
        scratch,
        &spec,
        &results,
        status.rows_total,
        (&q.cohort, &q.groups),
    )
    .await
    .map_err(read_error)?;
    let summary: JobSummary = serde_json::from_slice(&json)
        .map_err(|e| ApiError::internal(format!("the summary: {e}")))?;
    let rows = match q.rows {
        Some(rows) => rows,
        None => {
            // The highest and the lowest prediction (of the cohort, when there is one).
            let mut picked = Vec::new();
            for order in [Order::Desc, Order::Asc] {
                let rank = RankQuery {
                    by: RankBy::Prediction,
                    feature: None,
                    output: q.class.min(summary.outputs.saturating_sub(1)),
                    order,
                    limit: 1,
                    cohort: q.cohort.clone(),
                };
                let ranked = crate::jobs::ranked::ranked(blobs, scratch, &spec, &results, &rank)
                    .await
                    .map_err(read_error)?;
                picked.extend(
                    ranked
                        .rows
                        .first()
                        .map(|r| r.row)
                        .filter(|r| !picked.contains(r)),
                );
            }
            picked
        }
    };
    let mut drawn: Vec<JobRow> = Vec::new();
    for i in rows {
        drawn.push(
            crate::jobs::rows::job_row(blobs, scratch, &spec, &results, status.rows_total, i)
                .await
                .map_err(read_error)?,
        );
    }
    let cohorts = if q.a.is_some() || q.b.is_some() {
        let (a, b) = (q.a.unwrap_or_default(), q.b.unwrap_or_default());
        Some(
            crate::jobs::cohorts::compare_cohorts(blobs, scratch, &spec, &results, (&a, &b))
                .await
                .map_err(read_error)?,
        )
    } else {
        None
    };
    let job = view(&status);
    let (model, data) = (
        upload(&state, &spec.model).await,
        upload(&state, &spec.data).await,
    );
    let html = render(&ReportInputs {
        job: &job,
        model: model.as_ref(),
        data: data.as_ref(),
        summary: &summary,
        output: q.class,
        rows: &drawn,
        cohorts: cohorts.as_ref(),
        generated: chrono_free_utc(crate::redis::pool::now_ms()),
    });
    let mut response = html.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Nothing in the report may reach out: inline styles and SVG only.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"shaplab-report-{id}.html\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `2026-12-05 23:59 UTC` from milliseconds since the epoch (civil-from-days, no time crate).
fn chrono_free_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3_600,
        (rest % 3_600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_date_is_civil_utc() {
        // 2026-12-05 23:21:40 UTC.
        assert_eq!(chrono_free_utc(1_796_512_900_000), "2026-12-05 23:21 UTC");
        assert_eq!(chrono_free_utc(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 12:00 UTC (a leap day).
        assert_eq!(chrono_free_utc(1_709_208_000_000), "2024-02-29 12:00 UTC");
    }
}
