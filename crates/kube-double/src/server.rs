//! The HTTP front end: URL routing, query parsing, list/watch (plain or as Tables), discovery and
//! other non-resource paths, and Status-shaped errors.

use crate::resources::{self as res, ApiError, Rt, rt};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Change, ChangeKind, DeleteOptions, Propagation};
use crate::{Inner, RecordedRequest, lock};
use crate::{discovery, logs, openapi, table};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Interval of BOOKMARK events on watches that allow them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

pub fn router(inner: Arc<Inner>) -> Router {
    Router::new().fallback(handle).with_state(inner)
}

fn json_response(code: u16, v: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], v.to_string()).into_response()
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.to_status())
}

/// Parsed request target.
struct Target {
    rt: Rt,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(path: &str) -> Result<Target, ApiError> {
    let unknown = || {
        ApiError::bad_request(format!(
            "the server could not find the requested resource (kube-double does not serve {path})"
        ))
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(unknown()),
    };
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] if res::by_path(group, version, plural).is_some() => {
            (Some((*ns).to_owned()), *plural, tail.first(), tail.get(1))
        }
        [plural, tail @ ..] => (None, *plural, tail.first(), tail.get(1)),
        [] => return Err(unknown()),
    };
    let rt_i = res::by_path(group, version, plural).ok_or_else(unknown)?;
    let r = rt(rt_i);
    if !r.namespaced && namespace.is_some() {
        return Err(unknown());
    }
    if r.namespaced && namespace.is_none() && name.is_some() {
        return Err(unknown());
    }
    if rest.len() > 5 || name.is_some_and(|n| n.is_empty()) {
        return Err(unknown());
    }
    let subresource = sub.map(|s| (*s).to_owned());
    if subresource.as_deref().is_some_and(|s| !r.subresources.contains(&s)) {
        return Err(unknown());
    }
    Ok(Target { rt: rt_i, namespace, name: name.map(|n| (*n).to_owned()), subresource })
}

/// Query parameters the double understands.
#[derive(Default)]
struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    fn parse(q: &str) -> Self {
        Self { params: form_urlencoded::parse(q.as_bytes()).into_owned().collect() }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => {
                Err(ApiError::bad_request(format!("unsupported dry run value {other:?}, only \"All\" is supported")))
            }
        }
    }
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    lock(&inner.requests).push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: raw_query.clone(),
        content_type: content_type.clone(),
        accept: parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    });
    if crate::exec::is_exec(&path) {
        return crate::exec::serve(&inner, Request::from_parts(parts, body)).await;
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request(format!("reading the request body: {e}"))),
    };
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(response) = non_resource(&parts.method, &path, header(header::HOST), header(header::ACCEPT)) {
        return response;
    }
    let query = Query::parse(&raw_query);
    // kubectl get asks for server-side Tables.
    let table = (parts.method == Method::GET).then(|| table::requested(header(header::ACCEPT))).flatten();
    let include = table::Include::parse(query.get("includeObject"));
    match dispatch(&inner, &parts.method, &path, &query, content_type.as_deref(), &body) {
        Ok(Reply::Json(200, v)) if table.is_some() => {
            let t = table.and_then(|t| table::convert(&v, t, include));
            json_response(200, t.as_ref().unwrap_or(&v))
        }
        Ok(Reply::Json(code, v)) => json_response(code, &v),
        Ok(Reply::Text(text)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))], text).into_response()
        }
        Ok(Reply::Watch(mut w)) => {
            w.table = table.map(|t| (t, include));
            watch(&inner, *w)
        }
        Err(e) => error_response(&e),
    }
}

/// `/version`, health checks, discovery and OpenAPI; `None` for resource paths.
fn non_resource(method: &Method, path: &str, host: Option<&str>, accept: Option<&str>) -> Option<Response> {
    match path {
        "/version" => {
            let v =
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-double", "platform": "linux/amd64"});
            return Some(json_response(200, &v));
        }
        "/healthz" | "/readyz" | "/livez" => return Some((StatusCode::OK, "ok").into_response()),
        _ => {}
    }
    let doc = discovery::document(path, host.unwrap_or_default(), accept).or_else(|| {
        let doc = openapi::document(path)?;
        Some(doc.map(|v| ("application/json".to_owned(), v)))
    })?;
    Some(discovery_response(method, doc))
}

fn discovery_response(method: &Method, doc: Result<discovery::Document, ApiError>) -> Response {
    if method != Method::GET {
        let e =
            ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
        return error_response(&e);
    }
    match doc {
        Ok((content_type, v)) => {
            let ct = HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/json"));
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], v.to_string()).into_response()
        }
        Err(e) => error_response(&e),
    }
}

enum Reply {
    Json(u16, Value),
    /// 200 `text/plain` (pod logs).
    Text(String),
    Watch(Box<WatchRequest>),
}

fn parse_body(content_type: Option<&str>, body: &Bytes) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let yaml = content_type.is_some_and(|c| c.contains("yaml"));
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    if yaml {
        serde_saphyr::from_str::<Value>(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    } else {
        Err(ApiError::bad_request("the request body is not valid JSON"))
    }
}

fn manager(query: &Query, default: &str) -> String {
    query.get("fieldManager").filter(|m| !m.is_empty()).unwrap_or(default).to_owned()
}

fn dispatch(
    inner: &Inner,
    method: &Method,
    path: &str,
    query: &Query,
    content_type: Option<&str>,
    body: &Bytes,
) -> Result<Reply, ApiError> {
    let t = parse_target(path)?;
    let r = rt(t.rt);
    let ns = t.namespace.as_deref();
    let sub = t.subresource.as_deref();
    let dry_run = query.dry_run()?;
    check_field_validation(method, query)?;
    let client_manager = || manager(query, "kube-double-client");
    match (method.as_str(), t.name.as_deref(), sub) {
        ("GET", Some(name), Some("log")) => {
            logs::read(inner, ns.unwrap_or_default(), name, &log_request(query)?).map(Reply::Text)
        }
        ("GET", None, _) if query.flag("watch") => {
            Ok(Reply::Watch(Box::new(WatchRequest::new(t.rt, t.namespace, query)?)))
        }
        ("GET", None, _) => list(inner, t.rt, ns, query).map(|v| Reply::Json(200, v)),
        ("GET", Some(name), _) => lock(&inner.store)
            .get(t.rt, ns, name)
            .cloned()
            .map(|v| Reply::Json(200, v))
            .ok_or_else(|| ApiError::not_found(r, name)),
        ("POST", None, _) => {
            let obj = parse_body(content_type, body)?;
            let out = lock(&inner.store).create(t.rt, ns, obj, &client_manager(), dry_run)?;
            Ok(Reply::Json(201, out.object))
        }
        ("PUT", Some(name), None | Some("status")) => {
            let obj = parse_body(content_type, body)?;
            let out = lock(&inner.store).replace(t.rt, ns, name, obj, &client_manager(), sub, dry_run)?;
            Ok(Reply::Json(if out.created { 201 } else { 200 }, out.object))
        }
        ("PATCH", Some(name), None | Some("status")) => patch(inner, &t, name, query, content_type, body, dry_run),
        ("DELETE", Some(name), None) => {
            let opts = delete_options(query, body, dry_run)?;
            let obj = lock(&inner.store).delete(t.rt, ns, name, &opts)?;
            Ok(Reply::Json(200, obj))
        }
        (m, ..) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({m} {path})"),
        )),
    }
}

/// `fieldValidation` (kubectl sends `Strict`) is accepted on writes and its value checked like
/// the apiserver's `ValidatePatchOptions`; the double has no schemas, so unknown or duplicate
/// fields are never reported.
fn check_field_validation(method: &Method, query: &Query) -> Result<(), ApiError> {
    let options = match method.as_str() {
        "POST" => "CreateOptions",
        "PUT" => "UpdateOptions",
        "PATCH" => "PatchOptions",
        _ => return Ok(()),
    };
    match query.get("fieldValidation") {
        None | Some("" | "Ignore" | "Warn" | "Strict") => Ok(()),
        Some(v) => {
            let cause = format!(r#"Unsupported value: "{v}": supported values: "", "Ignore", "Strict", "Warn""#);
            Err(ApiError {
                details: Some(json!({"group": "meta.k8s.io", "kind": options, "causes": [
                    {"reason": "FieldValueNotSupported", "message": cause, "field": "fieldValidation"}
                ]})),
                ..ApiError::new(
                    422,
                    "Invalid",
                    format!("{options}.meta.k8s.io \"\" is invalid: fieldValidation: {cause}"),
                )
            })
        }
    }
}

fn patch(
    inner: &Inner,
    t: &Target,
    name: &str,
    query: &Query,
    content_type: Option<&str>,
    body: &Bytes,
    dry_run: bool,
) -> Result<Reply, ApiError> {
    let (ns, sub) = (t.namespace.as_deref(), t.subresource.as_deref());
    let ct = content_type.unwrap_or_default();
    let ct = ct.split(';').next().unwrap_or_default().trim();
    let patch = parse_body(Some(ct), body)?;
    let mut store = lock(&inner.store);
    let out = match ct {
        "application/apply-patch+yaml" => {
            if sub.is_some() {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "kube-double does not support apply on subresources",
                ));
            }
            let Some(fm) = query.get("fieldManager").filter(|m| !m.is_empty()) else {
                return Err(ApiError::bad_request("PATCH, fieldManager is required for apply requests"));
            };
            let force = match query.get("force") {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => return Err(ApiError::bad_request(format!("invalid force value {other:?}"))),
            };
            store.apply(t.rt, ns, name, patch, fm, force, dry_run)?
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            store.merge_patch(t.rt, ns, name, &patch, &manager(query, "kube-double-client"), sub, dry_run)?
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?})"
                ),
            ));
        }
    };
    Ok(Reply::Json(if out.created { 201 } else { 200 }, out.object))
}

/// `DeleteOptions` from the JSON body (as kube sends them), falling back to query parameters
/// (`propagationPolicy`, `orphanDependents`); `dryRun` from either.
fn delete_options(query: &Query, body: &Bytes, dry_run: bool) -> Result<DeleteOptions, ApiError> {
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("decoding DeleteOptions: {e}")))?
    };
    if !opts.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    let policy = opts.get("propagationPolicy").and_then(Value::as_str).or_else(|| query.get("propagationPolicy"));
    let orphan_dependents = opts
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or_else(|| query.get("orphanDependents").map(|v| v == "true"));
    let propagation = match (policy, orphan_dependents) {
        (Some(p), _) => Some(Propagation::parse(p).ok_or_else(|| {
            ApiError::new(
                422,
                "Invalid",
                format!(
                    "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            )
        })?),
        (None, Some(true)) => Some(Propagation::Orphan),
        (None, Some(false)) => Some(Propagation::Background),
        (None, None) => None,
    };
    let body_dry_run = opts.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    let precondition =
        |k: &str| opts.pointer(&format!("/preconditions/{k}")).and_then(Value::as_str).map(str::to_owned);
    Ok(DeleteOptions {
        propagation,
        dry_run: dry_run || body_dry_run,
        uid: precondition("uid"),
        resource_version: precondition("resourceVersion"),
    })
}

fn log_request(query: &Query) -> Result<logs::LogRequest, ApiError> {
    let number = |k: &str| -> Result<Option<u64>, ApiError> {
        query
            .get(k)
            .map(|v| v.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid {k} {v:?}"))))
            .transpose()
    };
    Ok(logs::LogRequest {
        container: query.get("container").filter(|c| !c.is_empty()).map(str::to_owned),
        previous: query.flag("previous"),
        tail_lines: number("tailLines")?,
        limit_bytes: number("limitBytes")?,
    })
}

/// The selectors of a list or watch.
struct Filter {
    rt: Rt,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn new(rt: Rt, namespace: Option<String>, query: &Query) -> Result<Self, ApiError> {
        let labels =
            LabelSelector::parse(query.get("labelSelector").unwrap_or_default()).map_err(ApiError::bad_request)?;
        let fields =
            FieldSelector::parse(query.get("fieldSelector").unwrap_or_default()).map_err(ApiError::bad_request)?;
        Ok(Self { rt, namespace, labels, fields })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn scoped(&self, c: &Change) -> bool {
        c.rt == self.rt && (self.namespace.is_none() || self.namespace == c.namespace)
    }

    /// The watch event for a change, honouring selector transitions like the apiserver.
    fn event(&self, c: &Change) -> Option<Value> {
        if !self.scoped(c) {
            return None;
        }
        let now = self.matches(&c.object);
        let before = c.old.as_deref().is_some_and(|o| self.matches(o));
        let ty = match c.kind {
            ChangeKind::Added if now => "ADDED",
            ChangeKind::Modified if now && before => "MODIFIED",
            ChangeKind::Modified if now => "ADDED",
            ChangeKind::Modified if before => "DELETED",
            ChangeKind::Deleted if now || before => "DELETED",
            _ => return None,
        };
        Some(json!({"type": ty, "object": &*c.object}))
    }
}

fn list(inner: &Inner, rt_i: Rt, ns: Option<&str>, query: &Query) -> Result<Value, ApiError> {
    let filter = Filter::new(rt_i, ns.map(str::to_owned), query)?;
    let limit: usize = match query.get("limit") {
        None | Some("" | "0") => usize::MAX,
        Some(l) => l.parse().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
    };
    let start: usize = match query.get("continue") {
        None | Some("") => 0,
        Some(c) => {
            c.parse().map_err(|_| ApiError::new(410, "Expired", "the provided continue parameter is too old"))?
        }
    };
    let store = lock(&inner.store);
    let matching: Vec<&Value> = store.list(rt_i, ns).into_iter().filter(|o| filter.matches(o)).collect();
    let end = start.saturating_add(limit).min(matching.len());
    let items: Vec<Value> = matching.get(start..end).unwrap_or_default().iter().map(|v| (*v).clone()).collect();
    let r = rt(rt_i);
    let mut metadata = json!({"resourceVersion": store.resource_version().to_string()});
    if end < matching.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(matching.len() - end);
    }
    Ok(json!({"kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": metadata, "items": items}))
}

struct WatchRequest {
    filter: Filter,
    resource_version: Option<u64>,
    timeout: Duration,
    bookmarks: bool,
    send_initial_events: bool,
    /// Objects of events become one-row Tables (`kubectl get -w`).
    table: Option<(table::TableVersion, table::Include)>,
}

impl WatchRequest {
    fn new(rt: Rt, namespace: Option<String>, query: &Query) -> Result<Self, ApiError> {
        let resource_version = match query.get("resourceVersion") {
            None | Some("" | "0") => None,
            Some(v) => Some(v.parse().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?),
        };
        let timeout = match query.get("timeoutSeconds") {
            None => Duration::from_secs(1800),
            Some(t) => Duration::from_secs(
                t.parse().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
            ),
        };
        Ok(Self {
            filter: Filter::new(rt, namespace, query)?,
            resource_version,
            timeout,
            bookmarks: query.flag("allowWatchBookmarks"),
            send_initial_events: query.flag("sendInitialEvents"),
            table: None,
        })
    }

    /// One event line, its object as a Table when the client asked for Tables.
    fn line(&self, event: Value) -> Bytes {
        match self.table {
            Some((version, include)) => line(&table::watch_event(event, version, include)),
            None => line(&event),
        }
    }
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(rt_i: Rt, rv: u64, initial_end: bool) -> Value {
    let r = rt(rt_i);
    let mut md = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"type": "BOOKMARK", "object": {"kind": r.kind, "apiVersion": r.api_version(), "metadata": md}})
}

fn expired(rv: u64, oldest: u64) -> Value {
    let e = ApiError::new(410, "Expired", format!("too old resource version: {rv} ({oldest})"));
    json!({"type": "ERROR", "object": e.to_status()})
}

/// Starts a streaming watch: the backlog (initial state or changes since `resourceVersion`),
/// then live changes pushed from the store's broadcast channel.
fn watch(inner: &Arc<Inner>, w: WatchRequest) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let (backlog, mut live, start_rv) = {
        let store = lock(&inner.store);
        let live = store.subscribe();
        let current = store.resource_version();
        let mut backlog = Vec::new();
        match w.resource_version {
            Some(rv) if !w.send_initial_events => {
                if rv < store.oldest_replayable_rv() {
                    backlog.push(line(&expired(rv, store.oldest_replayable_rv())));
                } else {
                    backlog.extend(store.changes_since(rv).iter().filter_map(|c| w.filter.event(c)).map(|e| w.line(e)));
                }
            }
            _ => {
                let ns = w.filter.namespace.as_deref();
                for obj in store.list(w.filter.rt, ns).into_iter().filter(|o| w.filter.matches(o)) {
                    backlog.push(w.line(json!({"type": "ADDED", "object": obj})));
                }
                if w.send_initial_events {
                    backlog.push(line(&bookmark(w.filter.rt, current, true)));
                }
            }
        }
        (backlog, live, current)
    };
    let task = async move {
        for l in backlog {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(w.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        let mut last_rv = start_rv;
        loop {
            tokio::select! {
                () = &mut deadline => return,
                () = tx.closed() => return,
                _ = ticker.tick(), if w.bookmarks => {
                    if tx.send(line(&bookmark(w.filter.rt, last_rv, false))).await.is_err() { return; }
                }
                msg = live.recv() => match msg {
                    Ok(c) => {
                        last_rv = c.rv;
                        if let Some(ev) = w.filter.event(&c)
                            && tx.send(w.line(ev)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(line(&expired(last_rv, last_rv + 1))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    };
    inner.runtime.spawn(task);
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let t = parse_target("/apis/apps/v1/namespaces/ns/statefulsets/web").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rt, t.namespace.as_deref(), t.name.as_deref()), (res::STATEFULSETS, Some("ns"), Some("web")));
        let t = parse_target("/apis/apps/v1/statefulsets").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rt, t.namespace, t.name), (res::STATEFULSETS, None, None));
        let t = parse_target("/api/v1/namespaces/ns").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rt, t.namespace, t.name.as_deref()), (res::NAMESPACES, None, Some("ns")));
        let t = parse_target("/api/v1/namespaces").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rt, t.name), (res::NAMESPACES, None));
        let t = parse_target("/api/v1/namespaces/ns/pods/p/status").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_target("/apis/batch/v1/namespaces/ns/jobs").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.rt, t.namespace.as_deref()), (res::JOBS, Some("ns")));
        let t = parse_target("/apis/coordination.k8s.io/v1/namespaces/ns/leases/l").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rt(t.rt).kind, t.name.as_deref()), ("Lease", Some("l")));
        let t = parse_target("/api/v1/namespaces/ns/pods/p/log").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.subresource.as_deref(), Some("log"));
        assert_eq!(parse_target("/apis/batch/v1/namespaces/ns/cronjobs").map(|_| ()).map_err(|e| e.code), Err(400));
        assert!(parse_target("/api/v1/namespaces/ns/configmaps/c/log").is_err());
        assert!(parse_target("/api/v1/namespaces/ns/pods/p/exec").is_err());
        assert!(parse_target("/api/v1/pods/p").is_err());
        // Only the subresources real for the kind (discovery lists the same ones).
        assert!(parse_target("/apis/apps/v1/namespaces/ns/statefulsets/s/status").is_ok());
        assert!(parse_target("/api/v1/namespaces/ns/configmaps/c/status").is_err());
        assert!(parse_target("/apis/coordination.k8s.io/v1/namespaces/ns/leases/l/status").is_err());
    }

    #[test]
    fn field_validation_values() {
        let q = |v: &str| Query::parse(&format!("fieldValidation={v}"));
        for v in ["Strict", "Warn", "Ignore", ""] {
            assert!(check_field_validation(&Method::PATCH, &q(v)).is_ok(), "{v}");
        }
        let e = check_field_validation(&Method::PATCH, &q("Loose")).err().unwrap_or_else(|| panic!("Loose accepted"));
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
        assert_eq!(
            e.message,
            r#"PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": supported values: "", "Ignore", "Strict", "Warn""#
        );
        let e = check_field_validation(&Method::POST, &q("x")).err().map(|e| e.message).unwrap_or_default();
        assert!(e.starts_with("CreateOptions.meta.k8s.io"), "{e}");
        assert!(check_field_validation(&Method::GET, &q("x")).is_ok(), "reads ignore it");
    }
}
