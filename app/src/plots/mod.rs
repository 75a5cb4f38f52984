//! The SVG plots, in python shap's vocabulary: importance bars, beeswarm, dependence scatter,
//! interaction heatmap, waterfall and force. Each plot is a pure function from summary data to SVG markup (see
//! [`svg`] for why markup); [`Figure`] frames one with its caption, downloads and table.

pub mod beeswarm;
pub mod colour;
pub mod compare;
pub mod decision;
pub mod dependence;
pub mod importance;
pub mod interactions;
pub mod pdp;
pub mod scale;
pub mod svg;
pub mod waterfall;

use crate::net;
use leptos::prelude::*;

/// A plot with its title, one-sentence caption, SVG/PNG downloads and a "show as table"
/// fallback (`children`).
#[component]
pub fn Figure(
    /// Stable name: the element id, the test id and the download file name.
    name: &'static str,
    title: &'static str,
    #[prop(into)] caption: Signal<String>,
    #[prop(into)] markup: Signal<String>,
    /// Prefix of downloaded file names (the job id).
    file_stem: String,
    children: ChildrenFn,
) -> impl IntoView {
    let holder = format!("plot-{name}");
    let (svg_name, png_name) = (
        format!("{file_stem}-{name}.svg"),
        format!("{file_stem}-{name}.png"),
    );
    let (h1, h2) = (holder.clone(), holder.clone());
    view! {
        <figure class="plot" data-testid=holder.clone()>
            <div class="plot-head">
                <h3>{title}</h3>
                <div class="plot-actions">
                    <button
                        type="button"
                        data-testid=format!("{holder}-svg")
                        on:click=move |_| net::download_svg(&h1, &svg_name)
                    >
                        "SVG"
                    </button>
                    <button
                        type="button"
                        data-testid=format!("{holder}-png")
                        on:click=move |_| net::download_png(&h2, &png_name)
                    >
                        "PNG"
                    </button>
                </div>
            </div>
            <div class="plot-svg" id=holder.clone() inner_html=move || markup.get()></div>
            <figcaption>{move || caption.get()}</figcaption>
            <details class="as-table">
                <summary>"Show as table"</summary>
                {children()}
            </details>
        </figure>
    }
}
