//! The browser side of [`crate::net`] (hydrate builds only).

use super::{CSRF_COOKIE, CSRF_HEADER, FetchError, Reply, cookie_value, needs_csrf};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

fn window() -> Result<web_sys::Window, FetchError> {
    web_sys::window().ok_or(FetchError::Network)
}

fn header_u32(headers: &web_sys::Headers, name: &str) -> Option<u32> {
    headers.get(name).ok().flatten()?.trim().parse().ok()
}

/// The CSRF token the server left in its cookie, if any (a server without sign-in may set
/// none; it then checks none).
fn csrf_token() -> Option<String> {
    let document: web_sys::HtmlDocument = web_sys::window()?.document()?.dyn_into().ok()?;
    cookie_value(&document.cookie().ok()?, CSRF_COOKIE)
}

/// Sends a request and returns the answer, whatever its status; only a missing answer is an
/// error. Requests that change something carry the CSRF header.
pub async fn request(
    method: &str,
    url: &str,
    json_body: Option<String>,
    idempotency_key: Option<String>,
) -> Result<Reply, FetchError> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(|_| FetchError::Network)?;
    if let Some(body) = json_body {
        let _ = headers.set("content-type", "application/json");
        init.set_body(&JsValue::from_str(&body));
    }
    if let Some(key) = idempotency_key {
        let _ = headers.set("idempotency-key", &key);
    }
    if needs_csrf(method)
        && let Some(token) = csrf_token()
    {
        let _ = headers.set(CSRF_HEADER, &token);
    }
    let _ = headers.set("accept", "application/json");
    init.set_headers(&headers);
    let response = JsFuture::from(window()?.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| FetchError::Network)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| FetchError::Network)?;
    let text = JsFuture::from(response.text().map_err(|_| FetchError::Network)?)
        .await
        .map_err(|_| FetchError::Network)?;
    Ok(Reply {
        status: response.status(),
        body: text.as_string().unwrap_or_default(),
        retry_after_s: header_u32(&response.headers(), "retry-after"),
        poll_hint_s: header_u32(&response.headers(), "x-poll-interval"),
    })
}

/// POSTs a file to `/api/uploads` with XMLHttpRequest (fetch cannot report upload
/// progress), calling `progress` with the fraction sent.
pub async fn upload_file(
    kind: &str,
    blob: web_sys::Blob,
    name: String,
    progress: impl Fn(f64) + 'static,
) -> Result<Reply, FetchError> {
    let form = web_sys::FormData::new().map_err(|_| FetchError::Network)?;
    // `kind` first: the server reads the multipart stream in order.
    form.append_with_str("kind", kind)
        .map_err(|_| FetchError::Network)?;
    form.append_with_blob_and_filename("file", &blob, &name)
        .map_err(|_| FetchError::Network)?;
    let xhr = web_sys::XmlHttpRequest::new().map_err(|_| FetchError::Network)?;
    xhr.open("POST", "/api/uploads")
        .map_err(|_| FetchError::Network)?;
    let _ = xhr.set_request_header("accept", "application/json");
    if let Some(token) = csrf_token() {
        let _ = xhr.set_request_header(CSRF_HEADER, &token);
    }
    let on_progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress(e.loaded() / e.total());
            }
        });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    let done = js_sys::Promise::new(&mut |resolve, _reject| {
        let on_end = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        // load, error and abort all end the request; the status tells them apart.
        xhr.set_onloadend(Some(on_end.unchecked_ref()));
    });
    xhr.send_with_opt_form_data(Some(&form))
        .map_err(|_| FetchError::Network)?;
    let _ = JsFuture::from(done).await;
    drop(on_progress);
    let status = xhr.status().unwrap_or(0);
    if status == 0 {
        return Err(FetchError::Network);
    }
    let retry_after_s = xhr
        .get_response_header("retry-after")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok());
    Ok(Reply {
        status,
        body: xhr.response_text().ok().flatten().unwrap_or_default(),
        retry_after_s,
        poll_hint_s: None,
    })
}

/// GETs a file as a Blob (the bundled sample).
pub async fn fetch_blob(url: &str) -> Result<web_sys::Blob, FetchError> {
    let response = JsFuture::from(window()?.fetch_with_str(url))
        .await
        .map_err(|_| FetchError::Network)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| FetchError::Network)?;
    if !response.ok() {
        return Err(FetchError::Status);
    }
    let blob = JsFuture::from(response.blob().map_err(|_| FetchError::Body)?)
        .await
        .map_err(|_| FetchError::Network)?;
    blob.dyn_into().map_err(|_| FetchError::Body)
}

pub async fn sleep_ms(ms: u32) {
    TimeoutFuture::new(ms).await;
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// A value kept in `localStorage` (survives reloads); `None` when absent or unavailable.
pub fn stored(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Keeps a value in `localStorage`; a full or disabled storage only loses the cache.
pub fn store(key: &str, value: &str) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

pub fn random() -> f64 {
    js_sys::Math::random()
}

/// Whether the tab is in the background.
pub fn hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// The browser's own idea of connectivity (`navigator.onLine`).
pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// A fresh random Idempotency-Key (128 bits, hex).
pub fn new_key() -> String {
    (0..4)
        .map(|_| format!("{:08x}", (js_sys::Math::random() * 4_294_967_296.0) as u32))
        .collect()
}

/// Rewrites the address bar's query without a navigation (the view state's deep link).
pub fn replace_query(query: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let path = window.location().pathname().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{query}")));
    }
}

pub fn current_url() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// A full navigation (used after submit, so the job page starts clean).
pub fn go_to(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(path);
    }
}

/// `https://host:port`, for the links and examples the page shows in full.
pub fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// The address bar's path and query (`/jobs?q=x`), to come back to after signing in.
pub fn current_path() -> String {
    web_sys::window()
        .map(|w| {
            let l = w.location();
            format!(
                "{}{}",
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// Puts `text` on the clipboard; `false` when the browser refuses (no permission, or a page
/// not served over HTTPS or from localhost, where `navigator.clipboard` does not exist).
pub async fn copy_text(text: &str) -> bool {
    let Ok(navigator) = window().map(|w| w.navigator()) else {
        return false;
    };
    // Checked first: calling a method of `undefined` would throw past the wasm boundary.
    let present = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if !present {
        return false;
    }
    JsFuture::from(navigator.clipboard().write_text(text))
        .await
        .is_ok()
}

fn save_url(name: &str, url: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(a) = document
        .create_element("a")
        .map(|a| a.dyn_into::<web_sys::HtmlAnchorElement>())
        && let Ok(a) = a
    {
        a.set_href(url);
        a.set_download(name);
        a.click();
    }
}

/// Saves `text` as a file called `name`.
pub fn download_text(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    if let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) {
        save_url(name, &url);
        let _ = web_sys::Url::revoke_object_url(&url);
    }
}

fn svg_markup(element_id: &str) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let holder = document.get_element_by_id(element_id)?;
    let svg = holder.query_selector("svg").ok()??;
    Some(svg.outer_html())
}

/// Saves the SVG inside the element `element_id` as a standalone `.svg` file.
pub fn download_svg(element_id: &str, name: &str) {
    if let Some(markup) = svg_markup(element_id) {
        download_text(name, "image/svg+xml", &markup);
    }
}

/// Renders the SVG inside `element_id` to a PNG at twice its size and saves it.
pub fn download_png(element_id: &str, name: &str) {
    let Some(markup) = svg_markup(element_id) else {
        return;
    };
    let name = name.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = png(&markup, &name).await;
    });
}

async fn png(markup: &str, name: &str) -> Option<()> {
    let document = web_sys::window()?.document()?;
    let image = web_sys::HtmlImageElement::new().ok()?;
    let loaded = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let fail = Closure::once_into_js(move || {
            let _ = reject.call0(&JsValue::NULL);
        });
        image.set_onload(Some(ok.unchecked_ref()));
        image.set_onerror(Some(fail.unchecked_ref()));
    });
    let encoded = js_sys::encode_uri_component(markup);
    image.set_src(&format!(
        "data:image/svg+xml;charset=utf-8,{}",
        String::from(encoded)
    ));
    JsFuture::from(loaded).await.ok()?;
    let canvas: web_sys::HtmlCanvasElement =
        document.create_element("canvas").ok()?.dyn_into().ok()?;
    let (w, h) = (image.natural_width().max(1), image.natural_height().max(1));
    canvas.set_width(w * 2);
    canvas.set_height(h * 2);
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    let _ = ctx.scale(2.0, 2.0);
    ctx.draw_image_with_html_image_element(&image, 0.0, 0.0)
        .ok()?;
    let url = canvas.to_data_url_with_type("image/png").ok()?;
    save_url(name, &url);
    Some(())
}

/// Marks `<body data-hydrated="true">` so end-to-end tests know the wasm has taken over.
pub fn mark_hydrated() {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
