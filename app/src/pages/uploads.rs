//! One drop zone of the start page: a file picker and drag-and-drop target that uploads the
//! file at once (with progress) and shows the server's description of it, or why it was
//! refused.

use crate::format;
use crate::net;
use crate::wire::{
    CategoricalFeature, DataSummary, ModelSummary, Upload, UploadKind, UploadSummary,
};
use leptos::prelude::*;

/// Where one upload stands.
#[derive(Clone, Debug, PartialEq)]
pub enum UploadState {
    Empty,
    Sending {
        name: String,
        fraction: f64,
    },
    Done(Box<Upload>),
    Refused {
        name: String,
        message: String,
    },
    /// Accepted on an earlier visit, but the server no longer has it (`UPLOAD_TTL`).
    Gone {
        name: String,
    },
}

impl UploadState {
    pub fn upload(&self) -> Option<&Upload> {
        match self {
            UploadState::Done(u) => Some(u),
            _ => None,
        }
    }
}

fn kind_key(kind: UploadKind) -> &'static str {
    match kind {
        UploadKind::Model => "model",
        UploadKind::Data => "data",
    }
}

/// Uploads `blob` as `kind`, publishing progress and the outcome in `state`.
pub async fn send(
    kind: UploadKind,
    blob: web_sys::Blob,
    name: String,
    state: RwSignal<UploadState>,
) {
    state.set(UploadState::Sending {
        name: name.clone(),
        fraction: 0.0,
    });
    let progress_name = name.clone();
    let progress = move |fraction: f64| {
        state.set(UploadState::Sending {
            name: progress_name.clone(),
            fraction,
        })
    };
    let outcome = net::upload_file(kind_key(kind), blob, name.clone(), progress).await;
    let refused = |message: String| UploadState::Refused {
        name: name.clone(),
        message,
    };
    state.set(match outcome {
        Ok(reply) if reply.ok() => match reply.json::<Upload>() {
            Ok(upload) => UploadState::Done(Box::new(upload)),
            Err(_) => refused("the server's answer could not be read; try again".into()),
        },
        Ok(reply) => refused(reply.error().message),
        Err(_) => refused(
            "the upload did not reach the server (network error or the server is restarting); \
             try again"
                .into(),
        ),
    });
}

fn first_file(files: Option<web_sys::FileList>) -> Option<web_sys::File> {
    files?.get(0)
}

/// A drop zone for `kind`.
#[component]
pub fn DropZone(kind: UploadKind, state: RwSignal<UploadState>) -> impl IntoView {
    let (title, hint, accept) = match kind {
        UploadKind::Model => (
            "Model",
            "XGBoost .json / .ubj, LightGBM .txt, CatBoost .json, scikit-learn .skops, ONNX .onnx",
            ".json,.ubj,.txt,.model,.skops,.onnx,.pkl,.joblib",
        ),
        UploadKind::Data => (
            "Data",
            "CSV with a header row, or Parquet",
            ".csv,.txt,.parquet,.pq",
        ),
    };
    let over = RwSignal::new(false);
    let take = move |file: Option<web_sys::File>| {
        if let Some(file) = file {
            let name = file.name();
            let blob: web_sys::Blob = file.into();
            leptos::task::spawn_local(send(kind, blob, name, state));
        }
    };
    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        over.set(false);
        take(first_file(ev.data_transfer().and_then(|d| d.files())));
    };
    let on_pick = move |ev: web_sys::Event| {
        use wasm_bindgen::JsCast;
        let input = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
        take(first_file(input.as_ref().and_then(|i| i.files())));
        if let Some(input) = input {
            input.set_value(""); // picking the same file again re-uploads it
        }
    };
    let testid = format!("drop-{}", kind_key(kind));
    view! {
        <div
            class="drop-zone"
            class:over=move || over.get()
            data-testid=testid
            data-state=move || match state.get() {
                UploadState::Empty => "empty",
                UploadState::Sending { .. } => "sending",
                UploadState::Done(_) => "done",
                UploadState::Refused { .. } => "refused",
                UploadState::Gone { .. } => "gone",
            }
            on:dragover=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                over.set(true);
            }
            on:dragleave=move |_| over.set(false)
            on:drop=on_drop
        >
            <h2>{title}</h2>
            <label class="picker">
                <span class="button">"Choose a file"</span>
                " or drop it here — " {hint}
                <input type="file" accept=accept on:change=on_pick data-testid=format!("file-{}", kind_key(kind)) />
            </label>
            {move || match state.get() {
                UploadState::Empty => view! { <p class="muted">"Nothing uploaded yet."</p> }.into_any(),
                UploadState::Sending { name, fraction } => {
                    let pct = (fraction * 100.0).round();
                    view! {
                        <p>"Uploading " <b>{name}</b> "…"</p>
                        <progress max="100" value=pct></progress>
                    }
                        .into_any()
                }
                UploadState::Refused { name, message } => {
                    view! {
                        <p class="error" role="alert" data-testid="upload-error">
                            <b>{name}</b> " was not accepted: " {message}
                        </p>
                    }
                        .into_any()
                }
                UploadState::Gone { name } => {
                    view! {
                        <p class="error" role="alert" data-testid="upload-error">
                            <b>{name}</b> ", uploaded on an earlier visit, is no longer stored on \
                             the server (files unused for a while are deleted). Choose it again."
                        </p>
                    }
                        .into_any()
                }
                UploadState::Done(upload) => view! { <UploadFacts upload=*upload /> }.into_any(),
            }}
        </div>
    }
}

/// What the server found in an accepted file.
#[component]
fn UploadFacts(upload: Upload) -> impl IntoView {
    let size = format!("{} bytes", format::count(upload.bytes));
    let facts = match &upload.summary {
        UploadSummary::Model(m) => {
            let mut lines = vec![
                format!("{} · {}", m.format, m.objective),
                format!(
                    "{} trees, depth up to {}, {} features, {} output{}",
                    format::count(m.trees as u64),
                    m.max_depth,
                    m.features,
                    m.outputs,
                    if m.outputs == 1 { "" } else { "s" }
                ),
            ];
            lines.extend(m.categorical.iter().map(categorical_line));
            lines.push(covers_line(&m.covers).to_owned());
            lines.extend(m.notes.iter().cloned());
            lines
        }
        UploadSummary::Data(d) => {
            let mut lines = vec![
                format!(
                    "{} · {} rows × {} columns",
                    d.format,
                    format::count(d.rows),
                    d.columns.len()
                ),
                format!("{} missing cells", format::count(d.missing_cells)),
            ];
            lines.extend(d.text_columns.iter().map(|t| {
                let shown: Vec<&str> = t.values.iter().take(8).map(String::as_str).collect();
                let more = if t.more || t.values.len() > 8 {
                    ", …"
                } else {
                    ""
                };
                format!("{}: words ({}{more})", t.name, shown.join(", "))
            }));
            lines
        }
    };
    view! {
        <div class="facts" data-testid="upload-summary">
            <p>
                <b>{upload.name.clone()}</b>
                " · "
                {size}
            </p>
            <ul>{facts.into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ul>
        </div>
    }
}

/// One categorical feature in words: `city: categorical (Brest, Lyon, Nice, Paris)`.
fn categorical_line(c: &CategoricalFeature) -> String {
    if c.categories.is_empty() {
        return format!(
            "{}: categorical (integer codes; the model stores no names)",
            c.name
        );
    }
    let shown: Vec<&str> = c.categories.iter().take(8).map(String::as_str).collect();
    let more = match c.categories.len() {
        n if n > 8 => format!(" and {} more", n - 8),
        _ => String::new(),
    };
    format!("{}: categorical ({}{more})", c.name, shown.join(", "))
}

/// Where the covers come from, in words.
fn covers_line(covers: &str) -> &'static str {
    match covers {
        "none" => "covers: none stored (ONNX) — explained interventionally against background rows",
        "recomputed" => "covers: recomputed from data",
        _ => "covers: stored in the model (path-dependent TreeSHAP as the library computes it)",
    }
}

/// Categories in the data that the model never saw, per feature, in words (a warning, not a
/// refusal: they are routed by the library's rule, and the job reports them too).
pub fn unseen_categories(model: &Upload, data: &Upload) -> Vec<String> {
    let (UploadSummary::Model(m), UploadSummary::Data(d)) = (&model.summary, &data.summary) else {
        return Vec::new();
    };
    m.categorical
        .iter()
        .filter(|c| !c.categories.is_empty())
        // A CatBoost model saved without `pool=` stores hashes, not names: which words it saw
        // is only known by hashing them, which the server does at submit (the job's notes).
        .filter(|c| !(c.by_hash && c.categories.iter().any(|n| n.starts_with("<CatBoost hash"))))
        .filter_map(|c| {
            let column = d.text_columns.iter().find(|t| t.name == c.name)?;
            let unseen: Vec<&str> = column
                .values
                .iter()
                .filter(|v| !c.categories.contains(v))
                .map(String::as_str)
                .collect();
            (!unseen.is_empty()).then(|| {
                let shown: Vec<&str> = unseen.iter().take(5).copied().collect();
                format!(
                    "{}: {} categor{} the model never saw ({}) — {}",
                    c.name,
                    unseen.len(),
                    if unseen.len() == 1 { "y" } else { "ies" },
                    shown.join(", "),
                    c.unseen_rule
                )
            })
        })
        .collect()
}

/// Why the data cannot be explained by the model, in words; `None` when they fit.
pub fn incompatibility(model: &Upload, data: &Upload) -> Option<String> {
    let (UploadSummary::Model(m), UploadSummary::Data(d)) = (&model.summary, &data.summary) else {
        return Some("the model and data files are swapped".into());
    };
    if let Some(why) = words_in_numeric_columns(m, d) {
        return Some(why);
    }
    match &m.feature_names {
        Some(names) => {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !d.columns.contains(n))
                .map(String::as_str)
                .collect();
            match missing.len() {
                0 => None,
                n => {
                    let shown: Vec<&str> = missing.iter().take(8).copied().collect();
                    let more = if n > 8 {
                        format!(" and {} more", n - 8)
                    } else {
                        String::new()
                    };
                    Some(format!(
                        "the data lacks {n} column{} the model needs: {}{more}",
                        if n == 1 { "" } else { "s" },
                        shown.join(", ")
                    ))
                }
            }
        }
        None if d.columns.len() < m.features => Some(format!(
            "the model was trained without feature names on {} features, but the data has only \
             {} columns",
            m.features,
            d.columns.len()
        )),
        None => None,
    }
}

/// A column of words feeding a numeric feature (or a codes-only categorical one).
fn words_in_numeric_columns(m: &ModelSummary, d: &DataSummary) -> Option<String> {
    let names = m.feature_names.as_ref()?;
    d.text_columns.iter().find_map(|t| {
        if !names.contains(&t.name) {
            return None; // an id or label column the model does not use
        }
        let example = t.values.iter().find(|v| v.parse::<f64>().is_err())?;
        match m.categorical.iter().find(|c| c.name == t.name) {
            None => Some(format!(
                "column {} holds words (\"{example}\" in row {}), but the model uses it as a number",
                t.name, t.first_text_row
            )),
            Some(c) if c.categories.is_empty() && !c.by_hash => Some(format!(
                "column {} holds words (\"{example}\"), but the model was trained on integer category codes",
                t.name
            )),
            Some(_) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TextColumn;

    fn model(names: Option<&[&str]>, features: usize) -> Upload {
        Upload {
            id: "m".into(),
            kind: UploadKind::Model,
            name: "m.json".into(),
            bytes: 1,
            sha256: String::new(),
            created_at_ms: 0,
            owner: None,
            summary: UploadSummary::Model(ModelSummary {
                format: "XGBoost JSON".into(),
                objective: "binary:logistic".into(),
                outputs: 1,
                trees: 1,
                leaves: 0,
                max_depth: 1,
                features,
                feature_names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
                notes: vec![],
                categorical: vec![CategoricalFeature {
                    name: "city".into(),
                    categories: vec!["Lyon".into(), "Paris".into()],
                    unseen_rule: "treated as missing".into(),
                    by_hash: false,
                }],
                covers: "model".into(),
            }),
        }
    }

    fn data(columns: &[&str]) -> Upload {
        Upload {
            id: "d".into(),
            kind: UploadKind::Data,
            name: "d.csv".into(),
            bytes: 1,
            sha256: String::new(),
            created_at_ms: 0,
            owner: None,
            summary: UploadSummary::Data(DataSummary {
                rows: 3,
                columns: columns.iter().map(|s| s.to_string()).collect(),
                missing_cells: 0,
                format: "CSV".into(),
                text_columns: columns
                    .iter()
                    .filter(|c| ["city", "code"].contains(c))
                    .map(|c| TextColumn {
                        name: c.to_string(),
                        values: vec!["Paris".into(), "Tokyo".into()],
                        counts: vec![2, 1],
                        more: false,
                        first_text_row: 1,
                    })
                    .collect(),
            }),
        }
    }

    #[test]
    fn missing_columns_are_named_before_submit() {
        let m = model(Some(&["age", "income", "tenure"]), 3);
        assert_eq!(
            incompatibility(&m, &data(&["tenure", "zip"])).as_deref(),
            Some("the data lacks 2 columns the model needs: age, income")
        );
        assert_eq!(
            incompatibility(&m, &data(&["income", "age", "tenure", "x"])),
            None
        );
    }

    #[test]
    fn words_in_a_numeric_column_are_refused_and_unseen_categories_named() {
        let m = model(Some(&["code", "city"]), 2);
        assert_eq!(
            incompatibility(&m, &data(&["code", "city"])).as_deref(),
            Some("column code holds words (\"Paris\" in row 1), but the model uses it as a number")
        );
        let m = model(Some(&["income", "city"]), 2);
        let d = data(&["income", "city"]);
        assert_eq!(incompatibility(&m, &d), None);
        assert_eq!(
            unseen_categories(&m, &d),
            ["city: 1 category the model never saw (Tokyo) — treated as missing"]
        );
    }

    #[test]
    fn a_catboost_model_without_names_warns_of_no_unseen_words() {
        // Saved without `pool=`: its categories are hashes, so no word can be judged here.
        let mut m = model(Some(&["income", "city"]), 2);
        if let UploadSummary::Model(s) = &mut m.summary {
            s.categorical[0].by_hash = true;
            s.categorical[0].categories =
                vec!["<CatBoost hash 1>".into(), "<CatBoost hash 2>".into()];
        }
        assert!(unseen_categories(&m, &data(&["income", "city"])).is_empty());
    }

    #[test]
    fn an_unnamed_model_needs_enough_columns() {
        let m = model(None, 3);
        assert!(incompatibility(&m, &data(&["a", "b"])).is_some());
        assert_eq!(incompatibility(&m, &data(&["a", "b", "c"])), None);
    }
}
