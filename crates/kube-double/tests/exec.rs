//! `pods/{name}/exec` through the real `kube::Client` (its websocket support,
//! `v5.channel.k8s.io`) and through a bare websocket client speaking only
//! `v4.channel.k8s.io`; and a deleted pod made again by its controller.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use kube::{Error, ResourceExt};
use kube_double::{ExecReply, KubeDouble};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A tiny key-value store answering `redis-cli` the way Redis does, its data
/// kept per pod name (as on a claim: it survives the pod).
fn redis_like(s: &KubeDouble) -> Arc<Mutex<HashMap<String, String>>> {
    let data: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let d = data.clone();
    s.set_exec(move |r| {
        let args: Vec<&str> = r.command.iter().map(String::as_str).collect();
        let mut d = d.lock().unwrap_or_else(|e| e.into_inner());
        let key = |k: &str| format!("{}/{k}", r.pod);
        Some(match args.as_slice() {
            ["redis-cli", "ping"] => ExecReply::ok("PONG\n"),
            ["redis-cli", "SET", k, v] => {
                d.insert(key(k), (*v).to_string());
                ExecReply::ok("OK\n")
            }
            ["redis-cli", "GET", k] => ExecReply::ok(format!("{}\n", d.get(&key(k)).cloned().unwrap_or_default())),
            ["sh", "-c", "exit 3"] => ExecReply::exit(3, "", "bye\n"),
            ["sleep", _] => ExecReply::ok("").after(Duration::from_millis(300)),
            ["cat", "big"] => ExecReply::ok(vec![b'x'; 100_000]),
            _ => return None,
        })
    });
    data
}

async fn ready_sts(s: &KubeDouble, name: &str) -> Api<Pod> {
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    api.patch(name, &PatchParams::apply("t"), &Patch::Apply(&sts(name, 1, "redis:7"))).await.expect("apply");
    await_condition(api, name, sts_ready).await.expect("ready");
    Api::namespaced(s.client(), "default")
}

/// Runs a command through kube: (stdout, stderr, status).
async fn run(pods: &Api<Pod>, pod: &str, cmd: &[&str]) -> Result<(String, String, Status), Error> {
    let mut p = pods.exec(pod, cmd.to_vec(), &AttachParams::default().container("main")).await?;
    let status = p.take_status().expect("status");
    let (mut out, mut err) = (String::new(), String::new());
    let mut so = p.stdout().expect("stdout");
    let mut se = p.stderr().expect("stderr");
    let (a, b) = tokio::join!(so.read_to_string(&mut out), se.read_to_string(&mut err));
    a.expect("read stdout");
    b.expect("read stderr");
    let status = status.await.expect("a status on the error channel");
    p.join().await.expect("join");
    Ok((out, err, status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_exec_runs_canned_commands_and_reads_the_exit_code() {
    let s = server().await;
    redis_like(&s);
    let pods = ready_sts(&s, "redis").await;

    let (out, err, st) = run(&pods, "redis-0", &["redis-cli", "ping"]).await.expect("exec");
    assert_eq!((out.as_str(), err.as_str(), st.status.as_deref()), ("PONG\n", "", Some("Success")));

    let (out, err, st) = run(&pods, "redis-0", &["sh", "-c", "exit 3"]).await.expect("exec");
    assert_eq!((out.as_str(), err.as_str()), ("", "bye\n"));
    assert_eq!(st.reason.as_deref(), Some("NonZeroExitCode"));
    let causes = st.details.and_then(|d| d.causes).unwrap_or_default();
    assert_eq!(causes[0].reason.as_deref(), Some("ExitCode"));
    assert_eq!(causes[0].message.as_deref(), Some("3"));

    // Output larger than one frame arrives whole.
    let (out, _, _) = run(&pods, "redis-0", &["cat", "big"]).await.expect("exec");
    assert_eq!(out.len(), 100_000);

    // An unscripted command fails as a missing executable does.
    let (_, _, st) = run(&pods, "redis-0", &["nope", "x"]).await.expect("exec");
    assert_eq!((st.status.as_deref(), st.reason.as_deref()), (Some("Failure"), Some("InternalError")));
    let message = st.message.unwrap_or_default();
    assert!(message.contains("exec: \"nope\": executable file not found in $PATH"), "{message}");

    let log = s.execs();
    assert_eq!(log.len(), 4);
    assert_eq!(
        (log[0].pod.as_str(), log[0].container.as_str(), log[0].workload.as_deref()),
        ("redis-0", "main", Some("redis"))
    );
    assert_eq!(log[0].command, ["redis-cli", "ping"]);
    assert!(s.requests().iter().any(|r| r.path == "/api/v1/namespaces/default/pods/redis-0/exec"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_errors_are_the_apiservers() {
    let s = server().await;
    redis_like(&s);
    let pods = ready_sts(&s, "redis").await;
    let code = |e: Error| match e {
        Error::Api(s) => (s.code, s.message),
        other => panic!("expected an API error, got {other:?}"),
    };
    let e = pods.exec("nothere-0", vec!["redis-cli", "ping"], &AttachParams::default()).await.err().expect("404");
    assert_eq!(code(e), (404, "pods \"nothere-0\" not found".into()));
    let e = pods.exec("redis-0", vec!["x"], &AttachParams::default().container("side")).await.err().expect("400");
    assert_eq!(code(e), (400, "container side is not valid for pod redis-0".into()));
    // A plain GET (no upgrade) is refused.
    let url = format!("{}/api/v1/namespaces/default/pods/redis-0/exec?command=x", s.url());
    let body = plain_get(&url).await;
    assert!(body.contains("Upgrade request required"), "{body}");
}

/// A GET without an upgrade, with a bare TCP stream (no HTTP client dependency).
async fn plain_get(url: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').expect("path");
    let mut tcp = tokio::net::TcpStream::connect(host).await.expect("connect");
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.expect("read");
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    out
}

/// The frames a bare client receives for `redis-cli ping`, offering only `protocol`.
async fn frames(s: &KubeDouble, protocol: &str) -> (String, Vec<Vec<u8>>) {
    let url = format!(
        "{}/api/v1/namespaces/default/pods/redis-0/exec?command=redis-cli&command=ping&stdout=true&stderr=true",
        s.url()
    )
    .replace("http://", "ws://");
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocol).expect("header"));
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.expect("websocket");
    let chosen =
        resp.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut got = Vec::new();
    while let Some(m) = ws.next().await {
        match m.expect("frame") {
            Message::Binary(b) => got.push(b.to_vec()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    let _ = ws.close(None).await;
    (chosen, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_protocol_v4_and_v5() {
    let s = server().await;
    redis_like(&s);
    ready_sts(&s, "redis").await;
    let success = br#"{"metadata":{},"status":"Success"}"#.to_vec();
    let (chosen, got) = frames(&s, "v4.channel.k8s.io").await;
    assert_eq!(chosen, "v4.channel.k8s.io");
    let want: Vec<Vec<u8>> =
        vec![vec![1], vec![2], vec![3], [&[1u8][..], b"PONG\n"].concat(), [&[3u8][..], &success].concat()];
    assert_eq!(got, want);
    // v5 also says when stdout and stderr are closed (channel 255).
    let (chosen, got) = frames(&s, "v5.channel.k8s.io, v4.channel.k8s.io").await;
    assert_eq!(chosen, "v5.channel.k8s.io");
    assert!(got.contains(&vec![255, 1]) && got.contains(&vec![255, 2]), "{got:?}");
    assert_eq!(got.last(), Some(&[&[3u8][..], &success].concat()));
    // No subprotocol offered: refused before the upgrade.
    let url = format!("{}/api/v1/namespaces/default/pods/redis-0/exec?command=redis-cli&command=ping", s.url());
    let refused = tokio_tungstenite::connect_async(url.replace("http://", "ws://")).await;
    assert!(refused.is_err(), "a websocket without a channel subprotocol is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_made_again_by_its_controller() {
    let s = server().await;
    let data = redis_like(&s);
    let pods = ready_sts(&s, "redis").await;
    run(&pods, "redis-0", &["redis-cli", "SET", "k", "v1"]).await.expect("set");
    let old = pods.get("redis-0").await.expect("pod").uid().expect("uid");
    pods.delete("redis-0", &DeleteParams::default()).await.expect("delete");
    let ready_again = await_condition(pods.clone(), "redis-0", |p: Option<&Pod>| {
        p.is_some_and(|p| {
            p.uid().as_deref() != Some(old.as_str())
                && p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
    });
    tokio::time::timeout(Duration::from_secs(5), ready_again).await.expect("a new redis-0 within 5s").expect("watch");
    let (out, _, _) = run(&pods, "redis-0", &["redis-cli", "GET", "k"]).await.expect("get");
    assert_eq!(out, "v1\n", "the responder's data is per pod name: {:?}", data.lock().map(|d| d.clone()));
    assert_ne!(s.execs().last().map(|e| e.pod_uid.clone()), Some(old), "the new pod has a new uid");

    // A Deployment's deleted pod is replaced by one with a new name; the count stays.
    let deploys: Api<Deployment> = Api::namespaced(s.client(), "default");
    deploys
        .patch("web", &PatchParams::apply("t"), &Patch::Apply(&deployment("web", 2, "nginx:1")))
        .await
        .expect("apply");
    let lp = ListParams::default().labels("app=web");
    eventually("two web pods", || {
        let l = s.list("Pod", Some("default"));
        (l.iter().filter(|p| p["metadata"]["labels"]["app"] == "web").count() == 2).then_some(())
    })
    .await;
    let before: Vec<String> = pods.list(&lp).await.expect("list").items.iter().map(|p| p.name_any()).collect();
    pods.delete(&before[0], &DeleteParams::default()).await.expect("delete");
    let after = eventually("a replacement web pod", || {
        let l = s.list("Pod", Some("default"));
        let names: Vec<String> = l
            .iter()
            .filter(|p| p["metadata"]["labels"]["app"] == "web")
            .filter(|p| {
                p.pointer("/status/conditions")
                    .and_then(|c| c.as_array())
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
            .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
            .collect();
        (names.len() == 2 && !names.contains(&before[0])).then_some(names)
    })
    .await;
    assert!(after.contains(&before[1]), "the other pod is kept: {after:?}");
}
