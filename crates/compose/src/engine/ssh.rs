//! `ssh://` engines, the docker CLI's way: each connection runs
//! `ssh [-l USER] [-p PORT] -- HOST docker system dial-stdio` and speaks the
//! Engine API over the child's stdin and stdout, bridged to bollard as a
//! custom transport (a hyper client whose connector is that child).
//!
//! Not bollard's own `ssh` feature: in bollard 0.21 it hands `user@host:port`
//! to openssh's address parser without the `ssh://` it needs to split off the
//! port, so `ssh://user@host:2222` fails, and it starts a control master per
//! pooled connection. Running the `ssh` binary keeps what users rely on:
//! `~/.ssh/config`, ssh-agent, known_hosts. ssh runs with `BatchMode=yes`
//! (deploy never prompts: keys come from the agent or files, the host must be
//! known) and `ConnectTimeout`; when it gives up, its own message (`Host key
//! verification failed.`, `Permission denied (publickey).`) is the error.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// `ssh://[USER@]HOST[:PORT][/SOCKET]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The engine's socket on the remote host, when not its default.
    pub socket: Option<String>,
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssh://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        match self.host.contains(':') {
            true => write!(f, "[{}]", self.host)?,
            false => write!(f, "{}", self.host)?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(s) = &self.socket {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl SshTarget {
    pub fn parse(raw: &str) -> Result<SshTarget, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not an ssh:// address ({e})"))?;
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.starts_with('-') {
            return Err("an ssh:// address needs a host name, as in ssh://user@host".to_string());
        }
        if url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err("an ssh:// address takes no password, query or fragment (ssh://[USER@]HOST[:PORT][/SOCKET])"
                .to_string());
        }
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(str::to_string);
        let socket = Some(url.path()).filter(|p| !matches!(*p, "" | "/")).map(str::to_string);
        Ok(SshTarget { user, host: host.to_string(), port: url.port(), socket })
    }

    /// What to check when the engine does not answer.
    pub fn help(&self) -> String {
        let mut ssh = "ssh -o BatchMode=yes".to_string();
        if let Some(u) = &self.user {
            ssh.push_str(&format!(" -l {u}"));
        }
        if let Some(p) = self.port {
            ssh.push_str(&format!(" -p {p}"));
        }
        format!(
            "deploy runs `{ssh} -- {host} docker system dial-stdio` and never prompts: check that `{ssh} {host} docker version` \
             works (a key from ssh-agent or ~/.ssh, the host key in known_hosts, the docker CLI on the remote PATH)",
            host = self.host
        )
    }

    fn command(&self, connect_timeout: u64) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-o", &format!("ConnectTimeout={connect_timeout}"), "-o", "BatchMode=yes", "-T"]);
        if let Some(u) = &self.user {
            c.arg("-l").arg(u);
        }
        if let Some(p) = self.port {
            c.arg("-p").arg(p.to_string());
        }
        c.arg("--").arg(&self.host).arg("docker");
        if let Some(s) = &self.socket {
            c.arg("--host").arg(format!("unix://{s}"));
        }
        c.args(["system", "dial-stdio"]);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// A client whose every connection is one `ssh ... dial-stdio`.
    pub fn docker(&self, timeout_secs: u64) -> Result<Docker, bollard::errors::Error> {
        let connector = Connector { target: Arc::new(self.clone()), connect_timeout: timeout_secs.clamp(1, 30) };
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let transport = move |req: BollardRequest| {
            let client = client.clone();
            async move { client.request(req).await.map_err(bollard::errors::Error::from) }
        };
        // The address is a placeholder: the connector ignores it (as the docker CLI's ssh helper does).
        Docker::connect_with_custom_transport(transport, Some("http://docker.ssh"), timeout_secs, API_DEFAULT_VERSION)
    }
}

#[derive(Clone)]
struct Connector {
    target: Arc<SshTarget>,
    connect_timeout: u64,
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SshStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let (target, timeout) = (self.target.clone(), self.connect_timeout);
        Box::pin(async move {
            let mut child = target
                .command(timeout)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot run ssh for {target}: {e}")))?;
            let (Some(stdin), Some(stdout), stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(io::Error::other("ssh started without its pipes"));
            };
            let pipe = Pipe { _child: child, stdin: Some(stdin), stdout, stderr, said: Vec::new(), answered: false };
            Ok(SshStream(TokioIo::new(pipe)))
        })
    }
}

/// One connection: the child's stdout and stdin, and what it says on stderr.
struct Pipe {
    /// Killed when the connection is dropped.
    _child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stderr: Option<ChildStderr>,
    /// The end of what ssh printed (its reason when it gives up).
    said: Vec<u8>,
    /// The engine sent something: an end of output is then the end of the connection.
    answered: bool,
}

const SAID_LIMIT: usize = 4096;

impl Pipe {
    /// Reads what ssh printed so far; ready once ssh closed its stderr.
    fn poll_said(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while let Some(err) = self.stderr.as_mut() {
            let mut chunk = [0u8; 512];
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(err).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.said.extend_from_slice(buf.filled());
                    let excess = self.said.len().saturating_sub(SAID_LIMIT);
                    self.said.drain(..excess);
                }
                Poll::Ready(_) => self.stderr = None,
            }
        }
        Poll::Ready(())
    }

    /// The connection ended before the engine answered: ssh's own words.
    fn failure(&self, cause: Option<io::Error>) -> io::Error {
        let said = String::from_utf8_lossy(&self.said);
        let lines: Vec<&str> = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        match (lines.is_empty(), cause) {
            (false, _) if lines[0].starts_with("ssh:") => io::Error::other(lines.join("; ")),
            (false, _) => io::Error::other(format!("ssh: {}", lines.join("; "))),
            (true, Some(e)) => io::Error::new(e.kind(), format!("ssh ended before the engine answered: {e}")),
            (true, None) => io::Error::other("ssh ended before the engine answered, without a message"),
        }
    }
}

impl AsyncRead for Pipe {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let _ = this.poll_said(cx);
        let before = buf.filled().len();
        let read = ready!(Pin::new(&mut this.stdout).poll_read(cx, buf));
        match read {
            Ok(()) if buf.filled().len() > before || this.answered => {
                this.answered = true;
                Poll::Ready(Ok(()))
            }
            // Nothing ever came: ssh gave up; wait for the rest of its message.
            Ok(()) => {
                ready!(this.poll_said(cx));
                Poll::Ready(Err(this.failure(None)))
            }
            Err(e) if this.answered => Poll::Ready(Err(e)),
            Err(e) => {
                ready!(this.poll_said(cx));
                Poll::Ready(Err(this.failure(Some(e))))
            }
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(stdin) = this.stdin.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        match ready!(Pin::new(stdin).poll_write(cx, buf)) {
            Err(e) if !this.answered => {
                ready!(this.poll_said(cx));
                Poll::Ready(Err(this.failure(Some(e))))
            }
            other => Poll::Ready(other),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes ssh's stdin: the engine sees the end of the request stream.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(stdin) = this.stdin.as_mut() {
            ready!(Pin::new(stdin).poll_shutdown(cx))?;
        }
        this.stdin = None;
        Poll::Ready(Ok(()))
    }
}

/// The connection as hyper takes it.
struct SshStream(TokioIo<Pipe>);

impl hyper::rt::Read for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}
