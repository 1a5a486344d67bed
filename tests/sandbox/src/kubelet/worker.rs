//! One pod's life on this kubelet: its files (service-account token, CA, namespace), one task
//! per container (start, wait, restart with back-off), and the pod status the kubelet reports
//! from what the containers do.

use super::logbuf::ContainerLog;
use super::process::{self, Isolation, Launch, SERVICE_ACCOUNT_DIR, TERMINATION_LOG};
use super::{ApiEndpoint, Stop};
use crate::auth::User;
use crate::cluster::Cluster;
use crate::registry::ResKey;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};

/// Where a container is, as its status reports it.
#[derive(Debug, Clone)]
enum State {
    Waiting { reason: String, message: String },
    Running { started: Timestamp },
    Terminated(Terminated),
}

#[derive(Debug, Clone)]
struct Terminated {
    exit_code: i32,
    reason: String,
    message: String,
    started: Option<Timestamp>,
    finished: Timestamp,
    container_id: String,
}

#[derive(Debug, Clone)]
struct ContainerStatus {
    name: String,
    image: String,
    state: State,
    last: Option<Terminated>,
    restarts: u64,
    ready: bool,
    container_id: String,
    /// No more runs will follow (restart policy says so, or the pod is stopping).
    done: bool,
}

/// A container task's news for the pod worker.
struct Update {
    index: usize,
    status: ContainerStatus,
}

fn pods() -> ResKey {
    ResKey::new("", "pods")
}

fn ts(t: Timestamp) -> String {
    crate::clock::rfc3339(t)
}

/// The program a container names, inside the image's directory: `command[0]`, else `args[0]`
/// (an image without an entrypoint); `..` and paths out of the directory are refused.
fn resolve_program(dir: &Path, container: &Value) -> Result<(PathBuf, Vec<String>), String> {
    let list = |f: &str| -> Vec<String> {
        container[f]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (command, args) = (list("command"), list("args"));
    let mut argv: Vec<String> = command.into_iter().chain(args).collect();
    if argv.is_empty() {
        return Err("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: no command specified: unknown".into());
    }
    let name = argv.remove(0);
    let not_found = || {
        format!(
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"{name}\": executable file not found in $PATH: unknown"
        )
    };
    let rel = Path::new(name.trim_start_matches('/'));
    if name.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(not_found());
    }
    // A bare name is looked up in the directory (the image's PATH); a path is taken from its root.
    let candidate = dir.join(rel);
    match std::fs::metadata(&candidate) {
        Ok(m) if m.is_file() => Ok((candidate, argv)),
        _ => Err(not_found()),
    }
}

/// Write the pod's service-account files (and, without a namespace, a kubeconfig).
fn pod_files(
    cluster: &Cluster,
    pod: &Value,
    dir: &Path,
    api: &ApiEndpoint,
) -> std::io::Result<Option<PathBuf>> {
    let sa_dir = dir.join("serviceaccount");
    std::fs::create_dir_all(&sa_dir)?;
    if pod["spec"]["automountServiceAccountToken"] == false {
        return Ok(None);
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let sa = pod["spec"]["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let token = format!("sandbox-sa.{}", crate::auth::random_token());
    cluster.tokens.add(&token, User::service_account(ns, sa));
    std::fs::write(sa_dir.join("token"), &token)?;
    std::fs::write(sa_dir.join("ca.crt"), &api.ca_pem)?;
    std::fs::write(sa_dir.join("namespace"), ns)?;
    let kubeconfig = dir.join("kubeconfig");
    let yaml = crate::kubeconfig::render(
        &format!("https://{}:{}", api.host, api.port),
        &api.ca_pem,
        &token,
        ns,
    );
    std::fs::write(&kubeconfig, yaml)?;
    Ok(Some(kubeconfig))
}

struct Ctx {
    cluster: Arc<Cluster>,
    pod: Arc<Value>,
    dir: PathBuf,
    api: ApiEndpoint,
    kubeconfig: Option<PathBuf>,
    isolation: Isolation,
}

impl Ctx {
    fn ns(&self) -> &str {
        self.pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }
    fn name(&self) -> &str {
        self.pod["metadata"]["name"].as_str().unwrap_or("")
    }
    fn uid(&self) -> &str {
        self.pod["metadata"]["uid"].as_str().unwrap_or("")
    }

    fn base_env(&self, image_dir: &Path) -> Vec<(String, String)> {
        let (h, p) = (&self.api.host, self.api.port);
        let hostname = self.pod["spec"]["hostname"]
            .as_str()
            .unwrap_or_else(|| self.name());
        let mut env = vec![
            (
                "PATH".to_string(),
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    image_dir.display()
                ),
            ),
            ("HOSTNAME".into(), hostname.to_string()),
            // A pod has no kubeconfig in its home: in-cluster configuration applies.
            ("HOME".into(), self.dir.join("home").display().to_string()),
            ("KUBERNETES_SERVICE_HOST".into(), h.clone()),
            ("KUBERNETES_SERVICE_PORT".into(), p.to_string()),
            ("KUBERNETES_SERVICE_PORT_HTTPS".into(), p.to_string()),
            ("KUBERNETES_PORT".into(), format!("tcp://{h}:{p}")),
        ];
        if self.isolation == Isolation::Kubeconfig
            && let Some(k) = &self.kubeconfig
        {
            env.push(("KUBECONFIG".into(), k.display().to_string()));
        }
        env
    }
}

/// The pod as stored now, if it is still this pod (same uid).
fn current(ctx: &Ctx) -> Option<Arc<Value>> {
    ctx.cluster
        .store
        .get(&pods(), ctx.ns(), ctx.name())
        .filter(|p| p["metadata"]["uid"].as_str() == Some(ctx.uid()))
}

pub async fn run_pod(
    cluster: Arc<Cluster>,
    pod: Arc<Value>,
    dir: PathBuf,
    api: ApiEndpoint,
    stop: watch::Receiver<Stop>,
) {
    let isolation = cluster.kubelet.isolation();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let kubeconfig = std::fs::create_dir_all(dir.join("home"))
        .and_then(|_| pod_files(&cluster, &pod, &dir, &api));
    let mut ctx = Ctx {
        cluster: cluster.clone(),
        pod,
        dir,
        api,
        kubeconfig: None,
        isolation,
    };
    ctx.kubeconfig = kubeconfig.ok().flatten();
    let ctx = Arc::new(ctx);
    ctx.cluster.kubelet.drop_logs(ctx.ns(), ctx.name());
    let containers: Vec<Value> = ctx.pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut statuses: Vec<ContainerStatus> = containers
        .iter()
        .map(|c| ContainerStatus {
            name: c["name"].as_str().unwrap_or("").to_string(),
            image: c["image"].as_str().unwrap_or("").to_string(),
            state: State::Waiting {
                reason: "ContainerCreating".into(),
                message: String::new(),
            },
            last: None,
            restarts: 0,
            ready: false,
            container_id: String::new(),
            done: false,
        })
        .collect();
    let start = crate::clock::now();
    write_status(&ctx, &statuses, start);
    scheduled_events(&ctx);
    let (tx, mut rx) = mpsc::channel::<Update>(64);
    let mut tasks = vec![];
    for (index, c) in containers.into_iter().enumerate() {
        let log = ctx.cluster.kubelet.log_for(
            ctx.ns(),
            ctx.name(),
            c["name"].as_str().unwrap_or(""),
            true,
        );
        let Some(log) = log else { continue };
        tasks.push(tokio::spawn(run_container(
            ctx.clone(),
            index,
            c,
            statuses[index].clone(),
            log,
            tx.clone(),
            stop.clone(),
        )));
    }
    drop(tx);
    while let Some(u) = rx.recv().await {
        if let Some(s) = statuses.get_mut(u.index) {
            *s = u.status;
        }
        // Take what else is waiting, then write once.
        while let Ok(u) = rx.try_recv() {
            if let Some(s) = statuses.get_mut(u.index) {
                *s = u.status;
            }
        }
        if current(&ctx).is_some() {
            write_status(&ctx, &statuses, start);
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    // A graceful deletion ends here: the processes have stopped, the pod object goes.
    if current(&ctx).is_some_and(|p| !p["metadata"]["deletionTimestamp"].is_null()) {
        let _ = ctx.cluster.store.delete(&pods(), ctx.ns(), ctx.name());
    }
    if current(&ctx).is_none() {
        ctx.cluster.kubelet.drop_logs(ctx.ns(), ctx.name());
    }
    ctx.cluster.kubelet.worker_done(&uid);
}

fn scheduled_events(ctx: &Ctx) {
    if let Some(pod) = current(ctx) {
        crate::events::record(
            &ctx.cluster,
            &pod,
            "Normal",
            "Scheduled",
            &format!(
                "Successfully assigned {}/{} to {}",
                ctx.ns(),
                ctx.name(),
                pod["spec"]["nodeName"].as_str().unwrap_or("sandbox-node-1")
            ),
            "default-scheduler",
        );
    }
}

fn event(ctx: &Ctx, type_: &str, reason: &str, message: &str) {
    if let Some(pod) = current(ctx) {
        crate::events::record(&ctx.cluster, &pod, type_, reason, message, "kubelet");
    }
}

/// Forward a pipe into the log, line by line.
async fn pump(pipe: impl AsyncRead + Unpin, log: Arc<ContainerLog>) {
    let mut r = BufReader::new(pipe);
    let mut buf = vec![];
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                log.push(String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }
}

/// The restart back-off before run `restarts + 1`: none for the first restart, then 10 s
/// doubling to 5 min, as the kubelet's; on the sandbox's clock.
fn backoff(cluster: &Cluster, restarts: u64) -> Duration {
    if restarts == 0 {
        return Duration::ZERO;
    }
    let secs = (10u64 << (restarts - 1).min(5)).min(300);
    cluster.settings.clock.real(Duration::from_secs(secs))
}

fn restarts_after(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// Wait until `stop` says something other than Run; returns it.
async fn stopped(stop: &mut watch::Receiver<Stop>) -> Stop {
    loop {
        let s = *stop.borrow_and_update();
        if s != Stop::Run {
            return s;
        }
        if stop.changed().await.is_err() {
            return Stop::Kill;
        }
    }
}

async fn run_container(
    ctx: Arc<Ctx>,
    index: usize,
    spec: Value,
    mut st: ContainerStatus,
    log: Arc<ContainerLog>,
    tx: mpsc::Sender<Update>,
    mut stop: watch::Receiver<Stop>,
) {
    let send = |st: &ContainerStatus| {
        let _ = tx.try_send(Update {
            index,
            status: st.clone(),
        });
    };
    let policy = ctx.pod["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or("Always")
        .to_string();
    let image_dir = ctx
        .cluster
        .kubelet
        .image_dir(&st.image)
        .map(Path::to_path_buf);
    let Some(image_dir) = image_dir else {
        // A container whose image is not mapped cannot run here: the image cannot be pulled.
        st.state = State::Waiting {
            reason: "ErrImagePull".into(),
            message: format!(
                "sandbox kubelet: no --run-image mapping matches {}",
                st.image
            ),
        };
        send(&st);
        return;
    };
    loop {
        // The environment, retried while a source is missing.
        let env = loop {
            let Some(pod) = current(&ctx) else { return };
            match super::env::resolve(&ctx.cluster, &pod, &spec, ctx.base_env(&image_dir)) {
                Ok(env) => break env,
                Err(message) => {
                    st.state = State::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: message.clone(),
                    };
                    send(&st);
                    event(&ctx, "Warning", "Failed", &format!("Error: {message}"));
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stopped(&mut stop) => { st.done = true; send(&st); return; }
                    }
                }
            }
        };
        let container_id = format!(
            "containerd://{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        let run_dir = ctx.dir.join(format!("{}-{}", st.name, st.restarts));
        let term_file = run_dir.join("termination-log");
        let _ = std::fs::create_dir_all(&run_dir).and_then(|_| std::fs::write(&term_file, b""));
        let term_path = spec["terminationMessagePath"]
            .as_str()
            .unwrap_or(TERMINATION_LOG)
            .to_string();
        let mut mounts = vec![];
        if ctx.kubeconfig.is_some() {
            mounts.push((
                ctx.dir.join("serviceaccount"),
                PathBuf::from(SERVICE_ACCOUNT_DIR),
            ));
        }
        if Path::new(&term_path).is_file() {
            mounts.push((term_file.clone(), PathBuf::from(&term_path)));
        }
        log.start_run();
        let started = crate::clock::now();
        let spawned = resolve_program(&image_dir, &spec).and_then(|(program, args)| {
            process::spawn(&Launch {
                program: &program,
                args: &args,
                env: &env,
                cwd: &ctx.dir.join("home"),
                mounts: &mounts,
                isolation: ctx.isolation,
            })
            .map_err(|e| format!("failed to start {}: {e}", program.display()))
        });
        let term = match spawned {
            Err(message) => {
                log.end_run();
                event(&ctx, "Warning", "Failed", &format!("Error: {message}"));
                Terminated {
                    exit_code: 128,
                    reason: "StartError".into(),
                    message,
                    started: None,
                    finished: crate::clock::now(),
                    container_id: container_id.clone(),
                }
            }
            Ok(mut child) => {
                let pgid = child.id().unwrap_or(0);
                ctx.cluster.kubelet.track_group(pgid, true);
                let pumps = [
                    child
                        .stdout
                        .take()
                        .map(|o| tokio::spawn(pump(o, log.clone()))),
                    child
                        .stderr
                        .take()
                        .map(|e| tokio::spawn(pump(e, log.clone()))),
                ];
                st.container_id = container_id.clone();
                st.state = State::Running { started };
                let probe = &spec["readinessProbe"];
                st.ready = !probe.is_object();
                send(&st);
                event(
                    &ctx,
                    "Normal",
                    "Started",
                    &format!("Started container {}", st.name),
                );
                let prober = probe.is_object().then(|| {
                    tokio::spawn(readiness(
                        probe.clone(),
                        spec["ports"].clone(),
                        index,
                        st.clone(),
                        tx.clone(),
                    ))
                });
                let (status, stopping) = tokio::select! {
                    s = child.wait() => (s.ok(), None),
                    s = stopped(&mut stop) => (None, Some(s)),
                };
                let status = match (status, stopping) {
                    (Some(s), _) => Some(s),
                    (None, Some(how)) => Some(terminate(&mut child, pgid, how).await),
                    (None, None) => None,
                };
                if let Some(p) = prober {
                    p.abort();
                }
                for p in pumps.into_iter().flatten() {
                    let _ = p.await;
                }
                // Whatever the leader left behind in its group goes with it.
                process::signal_group(pgid, true);
                ctx.cluster.kubelet.track_group(pgid, false);
                log.end_run();
                let exit_code = status
                    .and_then(|s| {
                        use std::os::unix::process::ExitStatusExt;
                        s.code().or_else(|| s.signal().map(|sig| 128 + sig))
                    })
                    .unwrap_or(137);
                let mut message = std::fs::read_to_string(&term_file).unwrap_or_default();
                if message.is_empty()
                    && exit_code != 0
                    && spec["terminationMessagePolicy"] == "FallbackToLogsOnError"
                {
                    message = log.tail_text(80, 2048);
                }
                message.truncate(4096);
                Terminated {
                    exit_code,
                    reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
                    message,
                    started: Some(started),
                    finished: crate::clock::now(),
                    container_id: container_id.clone(),
                }
            }
        };
        st.ready = false;
        let is_stopping = *stop.borrow() != Stop::Run;
        let again =
            !is_stopping && restarts_after(&policy, term.exit_code) && current(&ctx).is_some();
        if !again {
            st.state = State::Terminated(term);
            st.done = true;
            send(&st);
            return;
        }
        let wait = backoff(&ctx.cluster, st.restarts);
        st.last = Some(term.clone());
        if wait.is_zero() {
            st.state = State::Terminated(term);
            send(&st);
        } else {
            let secs = (10u64 << (st.restarts - 1).min(5)).min(300);
            st.state = State::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: format!(
                    "back-off {} restarting failed container={} pod={}_{}({})",
                    crate::table::human_duration(jiff::SignedDuration::from_secs(secs as i64)),
                    st.name,
                    ctx.name(),
                    ctx.ns(),
                    ctx.uid()
                ),
            };
            send(&st);
            event(
                &ctx,
                "Warning",
                "BackOff",
                &format!(
                    "Back-off restarting failed container {} in pod {}_{}({})",
                    st.name,
                    ctx.name(),
                    ctx.ns(),
                    ctx.uid()
                ),
            );
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(&mut stop) => {
                    st.done = true;
                    send(&st);
                    return;
                }
            }
        }
        st.restarts += 1;
    }
}

/// SIGTERM (or SIGKILL right away), SIGKILL after the grace period; the exit status.
async fn terminate(
    child: &mut tokio::process::Child,
    pgid: u32,
    how: Stop,
) -> std::process::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    let grace = match how {
        Stop::Graceful(secs) => Some(Duration::from_secs(secs)),
        _ => None,
    };
    if let Some(grace) = grace {
        process::signal_group(pgid, false);
        if let Ok(Ok(s)) = tokio::time::timeout(grace, child.wait()).await {
            return s;
        }
    }
    process::signal_group(pgid, true);
    let _ = child.start_kill();
    child
        .wait()
        .await
        .unwrap_or_else(|_| std::process::ExitStatus::from_raw(9))
}

/// An HTTP (or TCP) readiness probe against the process on 127.0.0.1, every `periodSeconds`.
async fn readiness(
    probe: Value,
    ports: Value,
    index: usize,
    mut st: ContainerStatus,
    tx: mpsc::Sender<Update>,
) {
    let num = |f: &str, d: u64| probe[f].as_u64().unwrap_or(d);
    let period = Duration::from_secs(num("periodSeconds", 10).max(1));
    let timeout = Duration::from_secs(num("timeoutSeconds", 1).max(1));
    let (success_needed, failure_needed) = (num("successThreshold", 1), num("failureThreshold", 3));
    tokio::time::sleep(Duration::from_secs(num("initialDelaySeconds", 0))).await;
    let target = if probe["httpGet"].is_object() {
        &probe["httpGet"]
    } else {
        &probe["tcpSocket"]
    };
    let port = match &target["port"] {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(name) => ports.as_array().and_then(|ps| {
            ps.iter()
                .find(|p| p["name"] == name.as_str())
                .and_then(|p| p["containerPort"].as_u64())
                .and_then(|p| u16::try_from(p).ok())
        }),
        _ => None,
    };
    let path = target["path"].as_str().unwrap_or("/").to_string();
    let http = probe["httpGet"].is_object();
    let (mut ok_run, mut bad_run) = (0, 0);
    loop {
        let ok = match (port, probe["exec"].is_object()) {
            (_, true) => true,
            (None, false) => false,
            (Some(port), false) => tokio::time::timeout(timeout, check(port, http, &path))
                .await
                .unwrap_or(false),
        };
        if ok {
            ok_run += 1;
            bad_run = 0;
        } else {
            bad_run += 1;
            ok_run = 0;
        }
        let next = if ok_run >= success_needed {
            Some(true)
        } else if bad_run >= failure_needed {
            Some(false)
        } else {
            None
        };
        if let Some(ready) = next
            && ready != st.ready
        {
            st.ready = ready;
            if tx
                .send(Update {
                    index,
                    status: st.clone(),
                })
                .await
                .is_err()
            {
                return;
            }
        }
        tokio::time::sleep(period).await;
    }
}

/// A GET answered 200-399, or (TCP) a connection accepted.
async fn check(port: u16, http: bool, path: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if !http {
        return true;
    }
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kube-probe/1.32\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut head[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| (200..400).contains(&c))
}

fn state_json(s: &State) -> Value {
    match s {
        State::Waiting { reason, message } => {
            let mut w = json!({ "reason": reason });
            if !message.is_empty() {
                w["message"] = json!(message);
            }
            json!({ "waiting": w })
        }
        State::Running { started } => json!({ "running": { "startedAt": ts(*started) } }),
        State::Terminated(t) => json!({ "terminated": terminated_json(t) }),
    }
}

fn terminated_json(t: &Terminated) -> Value {
    let mut v = json!({
        "exitCode": t.exit_code, "reason": t.reason,
        "startedAt": t.started.map(ts), "finishedAt": ts(t.finished),
        "containerID": t.container_id,
    });
    if !t.message.is_empty() {
        v["message"] = json!(t.message);
    }
    v
}

/// The phase upstream's `getPhase` gives these container states under the restart policy.
fn phase(statuses: &[ContainerStatus], policy: &str) -> &'static str {
    let started = |s: &ContainerStatus| {
        s.last.is_some() || matches!(s.state, State::Running { .. } | State::Terminated(_))
    };
    if statuses.iter().any(|s| !started(s)) {
        return "Pending";
    }
    let all_final = statuses.iter().all(|s| s.done);
    if !all_final {
        return "Running";
    }
    let failed = statuses.iter().any(|s| match &s.state {
        State::Terminated(t) => t.exit_code != 0,
        _ => true,
    });
    match (policy, failed) {
        ("Always", _) => "Running",
        (_, true) => "Failed",
        (_, false) => "Succeeded",
    }
}

fn write_status(ctx: &Ctx, statuses: &[ContainerStatus], start: Timestamp) {
    let policy = ctx.pod["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or("Always");
    let phase = phase(statuses, policy);
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s.ready);
    let finished = matches!(phase, "Succeeded" | "Failed");
    let now = crate::clock::now_rfc3339();
    let container_statuses: Vec<Value> = statuses
        .iter()
        .map(|s| {
            let mut v = json!({
                "name": s.name, "image": s.image,
                "imageID": format!("sandbox.local/{}", s.image),
                "ready": s.ready,
                "started": matches!(s.state, State::Running { .. }),
                "restartCount": s.restarts,
                "state": state_json(&s.state),
                "lastState": s.last.as_ref().map_or(json!({}), |t| json!({ "terminated": terminated_json(t) })),
            });
            if !s.container_id.is_empty() {
                v["containerID"] = json!(s.container_id);
            }
            v
        })
        .collect();
    let _ = ctx.cluster.store.update_with(&pods(), ctx.ns(), ctx.name(), |cur| {
        if cur["metadata"]["uid"].as_str() != Some(ctx.uid()) {
            return Ok(cur.clone());
        }
        let old = &cur["status"];
        let cond = |t: &str, status: bool, reason: Option<&str>| {
            let s = if status { "True" } else { "False" };
            let prev = old["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == t && c["status"] == s));
            let at = prev
                .and_then(|c| c["lastTransitionTime"].as_str())
                .unwrap_or(&now)
                .to_string();
            let mut c = json!({ "type": t, "status": s, "lastProbeTime": null, "lastTransitionTime": at });
            if let Some(r) = reason {
                c["reason"] = json!(r);
            }
            c
        };
        let not_ready = if finished {
            Some("PodCompleted")
        } else if all_ready {
            None
        } else {
            Some("ContainersNotReady")
        };
        let ready = all_ready && !finished;
        let mut next = cur.clone();
        next["spec"]["nodeName"] = cur["spec"]["nodeName"]
            .as_str()
            .map_or(json!("sandbox-node-1"), |n| json!(n));
        next["status"] = json!({
            "phase": phase,
            "conditions": [
                cond("PodReadyToStartContainers", !finished, None),
                cond("Initialized", true, None),
                cond("Ready", ready, not_ready),
                cond("ContainersReady", ready, not_ready),
                cond("PodScheduled", true, None),
            ],
            "hostIP": "127.0.0.1", "hostIPs": [{ "ip": "127.0.0.1" }],
            "podIP": "127.0.0.1", "podIPs": [{ "ip": "127.0.0.1" }],
            "startTime": ts(start),
            "containerStatuses": container_statuses,
            "qosClass": "BestEffort",
        });
        Ok(next)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_resolve_inside_the_image_directory() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("tool"), b"#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
        let c = json!({"command": ["tool", "a"], "args": ["b"]});
        let (p, args) = resolve_program(dir.path(), &c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, dir.path().join("tool"));
        assert_eq!(args, vec!["a", "b"]);
        let abs = json!({"command": ["/tool"]});
        assert!(resolve_program(dir.path(), &abs).is_ok());
        for bad in [
            json!({"command": ["sh"]}),
            json!({"command": ["../tool"]}),
            json!({}),
        ] {
            let e = resolve_program(dir.path(), &bad).err().unwrap_or_default();
            assert!(e.contains("failed to create containerd task"), "{e}");
        }
        let only_args = json!({"args": ["tool"]});
        assert!(resolve_program(dir.path(), &only_args).is_ok());
    }
}
