//! `pods/{name}/exec`: the websocket upgrade and the remote-command channel
//! protocol the apiserver speaks to kube and kubectl (`v5.channel.k8s.io`,
//! `v4.channel.k8s.io`: every binary frame starts with its channel, 0 stdin,
//! 1 stdout, 2 stderr, 3 error, which carries a `Status` with the exit code;
//! v5 adds 255, a channel closing). Nothing runs: a responder set with
//! [`KubeDouble::set_exec`] answers each command with canned output.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::resources::{self as res, ApiError, rt};
use crate::{Inner, KubeDouble, lock, logs};

/// The subprotocols served, in the double's order of preference when a client offers several equally.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
/// v5: "this channel is closed", followed by the channel.
const CLOSE: u8 = 255;
/// Largest data frame sent (the kubelet's buffer is 32 KiB too).
const FRAME: usize = 32 * 1024;

/// One command a client asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub namespace: String,
    pub pod: String,
    /// The pod's `metadata.uid`: a new pod (after a delete) has a new one.
    pub pod_uid: String,
    pub container: String,
    pub command: Vec<String>,
    /// The pod's controller (StatefulSet, Deployment or Job name), if any.
    pub workload: Option<String>,
}

/// What a canned command prints and how it exits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReply {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// How long it "runs" before it answers.
    pub delay: Duration,
}

impl ExecReply {
    /// Exit 0 with this output.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        ExecReply { stdout: stdout.into(), ..Default::default() }
    }
    /// Exit `code` with this output.
    pub fn exit(code: i32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Self {
        ExecReply { exit_code: code, stdout: stdout.into(), stderr: stderr.into(), delay: Duration::ZERO }
    }
    /// The same reply, after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Answers a command, or `None`: no such executable (the runtime's error).
pub type Responder = Arc<dyn Fn(&ExecRequest) -> Option<ExecReply> + Send + Sync>;

/// The responder and the commands run so far.
#[derive(Default)]
pub(crate) struct Execs {
    responder: Mutex<Option<Responder>>,
    log: Mutex<Vec<ExecRequest>>,
}

impl KubeDouble {
    /// Sets what `pods/{name}/exec` answers. Without a responder every command
    /// fails as a missing executable does.
    pub fn set_exec(&self, f: impl Fn(&ExecRequest) -> Option<ExecReply> + Send + Sync + 'static) {
        *lock(&self.inner.execs.responder) = Some(Arc::new(f));
    }
    /// Every command run through `pods/{name}/exec`, in order.
    pub fn execs(&self) -> Vec<ExecRequest> {
        lock(&self.inner.execs.log).clone()
    }
}

/// Whether `path` is a pod's `exec` subresource.
pub(crate) fn is_exec(path: &str) -> bool {
    matches!(
        path.trim_matches('/').split('/').collect::<Vec<_>>().as_slice(),
        ["api", "v1", "namespaces", _, "pods", _, "exec"]
    )
}

/// Validates the request like the apiserver and the kubelet, then switches
/// to the websocket and answers on it.
pub(crate) async fn serve(inner: &Arc<Inner>, mut req: Request) -> Response {
    let (protocol, key, er) = match accept(inner, &req) {
        Ok(x) => x,
        Err(e) => {
            return (
                StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
                [(header::CONTENT_TYPE, "application/json")],
                e.to_status().to_string(),
            )
                .into_response();
        }
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let reply = lock(&inner.execs.responder).clone().and_then(|f| f(&er));
    lock(&inner.execs.log).push(er.clone());
    inner.runtime.spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            talk(ws, protocol, &er, reply).await;
        }
    });
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    if let Ok(v) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

/// The subprotocol, the client's key and the command, or the error the apiserver would answer.
fn accept(inner: &Inner, req: &Request) -> Result<(&'static str, String, ExecRequest), ApiError> {
    let segs: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let (ns, name) = (segs[3].to_owned(), segs[5].to_owned());
    let hv = |n: header::HeaderName| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let upgrading = hv(header::UPGRADE).eq_ignore_ascii_case("websocket") && req.method() == Method::GET;
    if !upgrading {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()).into_owned().collect();
    let command: Vec<String> = query.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect();
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let pod = lock(&inner.store)
        .get(res::PODS, Some(&ns), &name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt(res::PODS), &name))?;
    let asked = query.iter().find(|(k, _)| k == "container").map(|(_, v)| v.as_str());
    let container = logs::pick_container(&pod, &name, asked)?;
    if !running(&pod, &container) {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{container}\")"
        )));
    }
    let offered: Vec<&str> = hv(header::SEC_WEBSOCKET_PROTOCOL).split(',').map(str::trim).collect();
    let protocol = offered.iter().find_map(|o| PROTOCOLS.iter().find(|p| *p == o)).ok_or_else(|| {
        ApiError::bad_request(format!(
            "none of the offered subprotocols is served (kube-double speaks {})",
            PROTOCOLS.join(", ")
        ))
    })?;
    let key = hv(header::SEC_WEBSOCKET_KEY).to_owned();
    if key.is_empty() {
        return Err(ApiError::bad_request("missing Sec-WebSocket-Key"));
    }
    let uid = pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let workload = controller_of(&pod);
    Ok((protocol, key, ExecRequest { namespace: ns, pod: name, pod_uid: uid, container, command, workload }))
}

/// The pod's controller owner, if any.
fn controller_of(pod: &Value) -> Option<String> {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)))
        .and_then(|r| r.get("name").and_then(Value::as_str))
        .map(str::to_owned)
}

/// Whether the container is running (the kubelet execs only into a running container).
fn running(pod: &Value, container: &str) -> bool {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container)))
        .is_some_and(|c| c.pointer("/state/running").is_some())
}

/// The exchange once upgraded: channels opened, output, the status, the close.
async fn talk<S>(mut ws: WebSocketStream<S>, protocol: &str, er: &ExecRequest, reply: Option<ExecReply>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut frames: Vec<Vec<u8>> = vec![vec![STDOUT], vec![STDERR], vec![ERROR]];
    if let Some(r) = &reply {
        tokio::time::sleep(r.delay).await;
        for (ch, data) in [(STDOUT, &r.stdout), (STDERR, &r.stderr)] {
            frames.extend(data.chunks(FRAME).map(|c| [&[ch][..], c].concat()));
        }
    }
    if protocol.starts_with("v5") {
        frames.push(vec![CLOSE, STDOUT]);
        frames.push(vec![CLOSE, STDERR]);
    }
    frames.push([&[ERROR][..], status(er, reply.as_ref()).to_string().as_bytes()].concat());
    for f in frames {
        if ws.send(Message::binary(f)).await.is_err() {
            return;
        }
    }
    let _ = ws.close(None).await;
    // Until the client closes too (stdin frames, if any, are ignored).
    while let Some(Ok(_)) = ws.next().await {}
}

/// The `Status` on the error channel: success, a non-zero exit code, or the runtime's error.
fn status(er: &ExecRequest, reply: Option<&ExecReply>) -> Value {
    let cmd = er.command.join(" ");
    match reply {
        Some(r) if r.exit_code == 0 => json!({"metadata": {}, "status": "Success"}),
        Some(r) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [{cmd}], exit code {}", r.exit_code),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": r.exit_code.to_string()}]},
        }),
        None => {
            let exe = er.command.first().cloned().unwrap_or_default();
            let message = format!(
                "Internal error occurred: error executing command in container: failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to start container process: exec: \"{exe}\": executable file not found in $PATH: unknown"
            );
            json!({"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500})
        }
    }
}
