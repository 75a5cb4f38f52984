//! What-if, under the row explorer's plots: edit the shown row's feature values (numbers, or
//! a category from the model's list) and see the new prediction, waterfall and force plot
//! beside the original, computed by `POST /api/jobs/{id}/whatif`. Values outside the data's
//! range and categories the model never saw come back as notes in words.

use super::job::JobSignals;
use super::row_explorer::{Loaded, RowPlots};
use crate::format;
use crate::net;
use crate::wire::{JobRow, WhatIfRow};
use leptos::prelude::*;
use serde_json::{Map, Value, json};

/// One editable feature.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: String,
    /// The text the control starts from: the row's value (empty when missing), or its
    /// category's name.
    initial: String,
    /// The model's category names, for a categorical feature.
    categories: Option<Vec<String>>,
}

fn fields(row: &JobRow, categories: &[Option<Vec<String>>]) -> Vec<Field> {
    row.features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let names = categories
                .get(j)
                .cloned()
                .flatten()
                .filter(|c| !c.is_empty());
            let initial = match (&names, &f.category, f.value) {
                (Some(_), Some(name), _) => name.clone(),
                (_, _, Some(v)) => v.to_string(),
                _ => String::new(),
            };
            Field {
                name: f.name.clone(),
                initial,
                categories: names,
            }
        })
        .collect()
}

/// The request body for the values that differ from the row's own; an error in words when a
/// number does not parse or nothing changed.
fn request(row: u64, fields: &[Field], texts: &[String]) -> Result<String, String> {
    let mut values = Map::new();
    for (field, text) in fields.iter().zip(texts) {
        let text = text.trim();
        if text == field.initial.trim() {
            continue;
        }
        let value = if text.is_empty() {
            Value::Null
        } else if field.categories.is_some() {
            Value::String(text.to_owned())
        } else {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => json!(x),
                _ => {
                    return Err(format!(
                        "{}: {text:?} is not a number; leave the box empty for a missing value",
                        field.name
                    ));
                }
            }
        };
        values.insert(field.name.clone(), value);
    }
    if values.is_empty() {
        return Err("Change at least one value, then ask again.".into());
    }
    Ok(json!({ "row": row, "values": values }).to_string())
}

/// How far the edit moved the raw output of class `k`, in words.
fn delta(own: &[f64], edited: &[f64], k: usize) -> String {
    match (own.get(k), edited.get(k)) {
        (Some(a), Some(b)) => format!(
            "Raw output {} → {} ({})",
            format::value(*a),
            format::value(*b),
            format::signed(b - a)
        ),
        _ => String::new(),
    }
}

async fn post(url: String, body: String) -> Loaded<WhatIfRow> {
    match net::request("POST", &url, Some(body), None).await {
        Ok(r) if r.ok() => r.json::<WhatIfRow>().map_or_else(
            |_| Loaded::Failed("the server's answer could not be read".into()),
            Loaded::Ready,
        ),
        Ok(r) => Loaded::Failed(r.error().message),
        Err(_) => Loaded::Failed("the server did not answer; try again in a moment".into()),
    }
}

#[component]
pub fn WhatIf(row: JobRow, class: Signal<usize>) -> impl IntoView {
    let s = expect_context::<JobSignals>();
    let categories = s
        .summary
        .with_untracked(|x| x.as_ref().map(|x| x.categories.clone()).unwrap_or_default());
    let all = fields(&row, &categories);
    let texts: Vec<RwSignal<String>> = all
        .iter()
        .map(|f| RwSignal::new(f.initial.clone()))
        .collect();
    let (fields, texts) = (StoredValue::new(all), StoredValue::new(texts));
    let result = RwSignal::new(Loaded::<WhatIfRow>::Idle);
    let i = row.row;
    let own_margin = row.predictions.margin.clone();
    let run = move || {
        let current: Vec<String> =
            texts.with_value(|t| t.iter().map(|t| t.get_untracked()).collect());
        let body = match fields.with_value(|f| request(i, f, &current)) {
            Ok(body) => body,
            Err(message) => {
                result.set(Loaded::Failed(message));
                return;
            }
        };
        let id = s.id.get_untracked();
        result.set(Loaded::Loading);
        leptos::task::spawn_local(async move {
            result.set(post(format!("/api/jobs/{id}/whatif"), body).await);
        });
    };
    let reset = move || {
        texts.with_value(|t| {
            fields.with_value(|f| t.iter().zip(f).for_each(|(t, f)| t.set(f.initial.clone())))
        });
        result.set(Loaded::Idle);
    };
    let controls = fields.with_value(|all| {
        all.iter()
            .zip(texts.get_value())
            .enumerate()
            .map(|(j, (f, text))| {
                let testid = format!("whatif-{j}");
                let control = match &f.categories {
                    Some(names) => {
                        // The row's own value first when the list lacks it (missing, or a
                        // category the model never saw).
                        let mut options = names.clone();
                        if !options.contains(&f.initial) {
                            options.insert(0, f.initial.clone());
                        }
                        let initial = f.initial.clone();
                        view! {
                            <select data-testid=testid on:change=move |ev| text.set(event_target_value(&ev))>
                                {options.into_iter().map(|n| {
                                    let label = if n.is_empty() { "missing".to_owned() } else { n.clone() };
                                    let selected = n == initial;
                                    view! { <option value=n selected=selected>{label}</option> }
                                }).collect_view()}
                            </select>
                        }
                        .into_any()
                    }
                    None => view! {
                        <input
                            type="text"
                            inputmode="decimal"
                            placeholder="missing"
                            data-testid=testid
                            prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))
                        />
                    }
                    .into_any(),
                };
                view! { <label class="whatif-field"><span>{f.name.clone()}</span>{control}</label> }
            })
            .collect_view()
    });
    view! {
        <section class="whatif" data-testid="whatif">
            <h3>"What if…"</h3>
            <p class="muted">
                "Change any values of this row and see its new prediction and contributions. \
                 Numbers outside the data's range and categories the model never saw are flagged."
            </p>
            <div class="whatif-fields">{controls}</div>
            <div class="controls">
                <button type="button" data-testid="whatif-run" on:click=move |_| run()>"Explain with these values"</button>
                <button type="button" data-testid="whatif-reset" on:click=move |_| reset()>"Reset"</button>
            </div>
            {move || match result.get() {
                Loaded::Idle => ().into_any(),
                Loaded::Loading => view! { <p class="muted">"Explaining the changed row…"</p> }.into_any(),
                Loaded::Failed(m) => view! { <p class="error" role="alert" data-testid="whatif-error">{m}</p> }.into_any(),
                Loaded::Ready(w) => view! {
                    <p data-testid="whatif-changed">{format!("Changed: {}", w.changed.join(", "))}</p>
                    <p data-testid="whatif-delta">{delta(&own_margin, &w.predictions.margin, class.get())}</p>
                    <ul class="notes" data-testid="whatif-notes">
                        {w.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}
                    </ul>
                    <RowPlots row=w.as_row() class what_if=true />
                }.into_any(),
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, initial: &str, categories: Option<&[&str]>) -> Field {
        Field {
            name: name.into(),
            initial: initial.into(),
            categories: categories.map(|c| c.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn only_changed_values_are_sent_with_empty_as_missing_and_categories_as_names() {
        let fields = [
            field("age", "41", None),
            field("city", "Paris", Some(&["Paris", "Lyon"])),
            field("income", "1200.5", None),
        ];
        let texts = ["41".to_string(), "Lyon".into(), " ".into()];
        let body: Value =
            serde_json::from_str(&request(7, &fields, &texts).expect("a body")).expect("JSON");
        assert_eq!(
            body,
            json!({"row": 7, "values": {"city": "Lyon", "income": null}})
        );
    }

    #[test]
    fn the_change_in_the_raw_output_is_said_with_its_sign() {
        assert_eq!(
            delta(&[1.0, 2.0], &[1.0, 1.5], 1),
            "Raw output 2 → 1.5 (−0.5)"
        );
        assert_eq!(delta(&[1.0], &[1.0], 3), "");
    }

    #[test]
    fn a_word_in_a_numeric_box_and_an_unchanged_row_are_refused_in_words() {
        let fields = [field("age", "41", None)];
        let err = request(0, &fields, &["forty".into()]).expect_err("refused");
        assert!(err.contains("age") && err.contains("not a number"), "{err}");
        let err = request(0, &fields, &["41".into()]).expect_err("refused");
        assert!(err.contains("Change at least one value"), "{err}");
    }
}
