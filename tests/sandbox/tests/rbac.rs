//! RBAC served and enforced: Roles and ClusterRoles bound to ServiceAccounts, tokens from
//! `kubectl create token`, and for each account `kubectl auth can-i --list --as=...` (run as the
//! admin, through impersonation) agreeing with what the account's own token is allowed and
//! refused, refusals worded as upstream.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Kubectl, sandbox_with};
use http_body_util::BodyExt;
use sealos_sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-one, namespace: team-a}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-two, namespace: team-a}
data: {a: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team-a}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-a}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: team-b}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: nginx}]}
"#;

/// The accounts and what they are granted.
const GRANTS: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: auditor, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: named, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: scaler, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody, namespace: team-a}
---
# namespaced: read pods and configmaps in team-a
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team-a}
rules:
- {apiGroups: [""], resources: [pods, configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-pods, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: reader}]
---
# a ClusterRole granted in one other namespace only, to an account from team-a
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-view, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: reader, namespace: team-a}]
---
# cluster-wide: namespaces and deployments everywhere, and a non-resource URL
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: auditor}
rules:
- {apiGroups: [""], resources: [namespaces], verbs: [get, list]}
- {apiGroups: [apps], resources: [deployments], verbs: [get, list, watch]}
- {nonResourceURLs: ["/metrics", "/logs/*"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: auditor}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: auditor}
subjects: [{kind: ServiceAccount, name: auditor, namespace: team-a}]
---
# resourceNames: one ConfigMap, by name only (no list, no create)
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-configmap, namespace: team-a}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [cm-one], verbs: [get, list, patch, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: named, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-configmap}
subjects: [{kind: ServiceAccount, name: named, namespace: team-a}]
---
# subresources: logs and scale, not the objects themselves
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scaler}
rules:
- {apiGroups: [""], resources: [pods/log], verbs: [get]}
- {apiGroups: ["*"], resources: ["*/scale"], verbs: [get, patch]}
- {apiGroups: [apps], resources: [deployments/status], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: scaler}
subjects: [{kind: Group, name: "system:serviceaccount:team-a:scaler"}, {kind: User, name: "system:serviceaccount:team-a:scaler"}]
"#;

/// One request of the matrix: method, path, body, and its attributes as the authorizer sees
/// them (verb, group, resource[/sub], namespace, name), or a non-resource path.
struct Probe {
    method: &'static str,
    path: String,
    body: Option<Value>,
    content_type: &'static str,
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespace: Option<&'static str>,
    name: Option<&'static str>,
}

fn get(
    path: &str,
    group: &'static str,
    resource: &'static str,
    ns: Option<&'static str>,
    name: Option<&'static str>,
) -> Probe {
    let verb = if name.is_some() { "get" } else { "list" };
    Probe {
        method: "GET",
        path: path.to_string(),
        body: None,
        content_type: "application/json",
        verb,
        group,
        resource,
        namespace: ns,
        name,
    }
}

fn non_resource(path: &str) -> Probe {
    Probe {
        method: "GET",
        path: path.to_string(),
        body: None,
        content_type: "",
        verb: "get",
        group: "",
        resource: "",
        namespace: None,
        name: None,
    }
}

fn probes() -> Vec<Probe> {
    let patch = |path: &str,
                 group: &'static str,
                 resource: &'static str,
                 ns: &'static str,
                 name: &'static str,
                 body: Value| Probe {
        method: "PATCH",
        path: format!("{path}?dryRun=All"),
        body: Some(body),
        content_type: "application/merge-patch+json",
        verb: "patch",
        group,
        resource,
        namespace: Some(ns),
        name: Some(name),
    };
    vec![
        get(
            "/api/v1/namespaces/team-a/pods",
            "",
            "pods",
            Some("team-a"),
            None,
        ),
        get(
            "/api/v1/namespaces/team-b/pods",
            "",
            "pods",
            Some("team-b"),
            None,
        ),
        get(
            "/api/v1/namespaces/team-a/configmaps",
            "",
            "configmaps",
            Some("team-a"),
            None,
        ),
        get(
            "/api/v1/namespaces/team-a/configmaps/cm-one",
            "",
            "configmaps",
            Some("team-a"),
            Some("cm-one"),
        ),
        get(
            "/api/v1/namespaces/team-a/configmaps/cm-two",
            "",
            "configmaps",
            Some("team-a"),
            Some("cm-two"),
        ),
        get(
            "/api/v1/namespaces/team-b/configmaps",
            "",
            "configmaps",
            Some("team-b"),
            None,
        ),
        get(
            "/api/v1/namespaces/team-a/secrets",
            "",
            "secrets",
            Some("team-a"),
            None,
        ),
        get(
            "/api/v1/namespaces/team-b/secrets",
            "",
            "secrets",
            Some("team-b"),
            None,
        ),
        get("/api/v1/namespaces", "", "namespaces", None, None),
        get(
            "/api/v1/namespaces/team-b",
            "",
            "namespaces",
            Some("team-b"),
            Some("team-b"),
        ),
        get(
            "/apis/apps/v1/deployments",
            "apps",
            "deployments",
            None,
            None,
        ),
        get(
            "/apis/apps/v1/namespaces/team-a/deployments/web",
            "apps",
            "deployments",
            Some("team-a"),
            Some("web"),
        ),
        get(
            "/apis/apps/v1/namespaces/team-b/deployments/api",
            "apps",
            "deployments",
            Some("team-b"),
            Some("api"),
        ),
        get(
            "/apis/apps/v1/namespaces/team-a/deployments/web/scale",
            "apps",
            "deployments/scale",
            Some("team-a"),
            Some("web"),
        ),
        get(
            "/apis/apps/v1/namespaces/team-a/deployments/web/status",
            "apps",
            "deployments/status",
            Some("team-a"),
            Some("web"),
        ),
        patch(
            "/apis/apps/v1/namespaces/team-a/deployments/web/scale",
            "apps",
            "deployments/scale",
            "team-a",
            "web",
            json!({"spec": {"replicas": 2}}),
        ),
        patch(
            "/apis/apps/v1/namespaces/team-a/deployments/web",
            "apps",
            "deployments",
            "team-a",
            "web",
            json!({"metadata": {"labels": {"x": "y"}}}),
        ),
        patch(
            "/api/v1/namespaces/team-a/configmaps/cm-one",
            "",
            "configmaps",
            "team-a",
            "cm-one",
            json!({"data": {"b": "2"}}),
        ),
        patch(
            "/api/v1/namespaces/team-a/configmaps/cm-two",
            "",
            "configmaps",
            "team-a",
            "cm-two",
            json!({"data": {"b": "2"}}),
        ),
        Probe {
            method: "POST",
            path: "/api/v1/namespaces/team-a/configmaps?dryRun=All".into(),
            body: Some(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-one"}}),
            ),
            content_type: "application/json",
            verb: "create",
            group: "",
            resource: "configmaps",
            namespace: Some("team-a"),
            name: None,
        },
        Probe {
            method: "GET",
            path: "/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dcm-one"
                .into(),
            body: None,
            content_type: "",
            verb: "list",
            group: "",
            resource: "configmaps",
            namespace: Some("team-a"),
            name: Some("cm-one"),
        },
        non_resource("/metrics"),
        non_resource("/logs/kube-apiserver.log"),
        non_resource("/version"),
        non_resource("/apis"),
    ]
}

/// One row of `kubectl auth can-i --list`.
#[derive(Debug)]
struct Row {
    group: String,
    resource: String,
    urls: Vec<String>,
    names: Vec<String>,
    verbs: Vec<String>,
}

fn bracketed(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Read the table by its header's column offsets (tabwriter aligns every row to them).
fn parse_list(out: &str) -> Vec<Row> {
    let mut lines = out.lines();
    let head = lines.next().unwrap();
    let urls_at = head.find("Non-Resource URLs").unwrap();
    let names_at = head.find("Resource Names").unwrap();
    let verbs_at = head.find("Verbs").unwrap();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let col =
                |a: usize, b: usize| l.get(a..b.min(l.len())).unwrap_or("").trim().to_string();
            let combined = col(0, urls_at);
            let (base, sub) = match combined.split_once('/') {
                Some((b, s)) => (b.to_string(), Some(s.to_string())),
                None => (combined.clone(), None),
            };
            let (resource, group) = match base.split_once('.') {
                Some((r, g)) => (r.to_string(), g.to_string()),
                None => (base.clone(), String::new()),
            };
            Row {
                group,
                resource: match sub {
                    Some(s) => format!("{resource}/{s}"),
                    None => resource,
                },
                urls: bracketed(&col(urls_at, names_at)),
                names: bracketed(&col(names_at, verbs_at)),
                verbs: bracketed(&col(verbs_at, usize::MAX)),
            }
        })
        .collect()
}

/// What the listed rules say about one probe.
fn listed_allows(rows: &[Row], p: &Probe) -> bool {
    rows.iter().any(|r| {
        let verb = r.verbs.iter().any(|v| v == "*" || v == p.verb);
        if p.resource.is_empty() {
            return verb
                && r.urls.iter().any(|u| {
                    u == "*"
                        || u == &p.path
                        || u.strip_suffix('*')
                            .is_some_and(|pre| p.path.starts_with(pre))
                });
        }
        let sub = p.resource.split_once('/').map(|(_, s)| s);
        let resource = r.resource == "*"
            || r.resource == p.resource
            || sub.is_some_and(|s| r.resource == format!("*/{s}"));
        let group = r.group == "*" || r.group == p.group;
        let name = r.names.is_empty() || p.name.is_some_and(|n| r.names.iter().any(|x| x == n));
        verb && resource && group && name && !r.resource.is_empty()
    })
}

fn expected_refusal(user: &str, p: &Probe) -> String {
    if p.resource.is_empty() {
        return format!("forbidden: User \"{user}\" cannot get path \"{}\"", p.path);
    }
    let base = p.resource.split('/').next().unwrap();
    let qualified = if p.group.is_empty() {
        base.to_string()
    } else {
        format!("{base}.{}", p.group)
    };
    let subject = match p.name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let scope = match p.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    format!(
        "{subject} is forbidden: User \"{user}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        p.verb, p.resource, p.group
    )
}

async fn token_client(sb: &Sandbox, token: &str) -> kube::Client {
    let mut config = kube::Config::new(sb.url().parse().unwrap());
    config.root_cert = Some(vec![x509_der(sb.ca_pem())]);
    config.auth_info.token = Some(token.to_string().into());
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

fn x509_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// (status, Status message or body)
async fn send(client: &kube::Client, p: &Probe) -> (u16, String) {
    let mut req = http::Request::builder().method(p.method).uri(&p.path);
    if !p.content_type.is_empty() {
        req = req.header("content-type", p.content_type);
    }
    let body = p
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let resp = client
        .send(req.body(kube::client::Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(String::from))
        .unwrap_or(text);
    (status, message)
}

async fn setup() -> (Sandbox, Kubectl) {
    let sb = sandbox_with(SandboxOptions::scenario("empty")).await;
    let k = Kubectl::new(&sb);
    k.ok_stdin(&["apply", "-f", "-"], SETUP).await;
    k.ok_stdin(&["apply", "-f", "-"], GRANTS).await;
    (sb, k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_i_list_matches_what_each_token_may_do() {
    let (sb, k) = setup().await;
    for sa in ["reader", "auditor", "named", "scaler", "nobody"] {
        let user = format!("system:serviceaccount:team-a:{sa}");
        let token = k
            .ok(&["create", "token", sa, "-n", "team-a"])
            .await
            .trim()
            .to_string();
        let client = token_client(&sb, &token).await;
        let mut lists = std::collections::HashMap::new();
        for ns in ["team-a", "team-b", "default"] {
            let out = k
                .ok(&["auth", "can-i", "--list", "--as", &user, "-n", ns])
                .await;
            lists.insert(ns, parse_list(&out));
        }
        let mut allowed = 0;
        for p in probes() {
            // Cluster-scoped requests: the rules of a namespace without RoleBindings.
            let rows = &lists[p.namespace.unwrap_or("default")];
            let want = listed_allows(rows, &p);
            let (status, message) = send(&client, &p).await;
            assert_eq!(
                status != 403,
                want,
                "{sa}: {} {} answered {status} {message}; can-i --list said {want}:\n{rows:#?}",
                p.method,
                p.path
            );
            if status == 403 {
                assert_eq!(message, expected_refusal(&user, &p), "{sa} {}", p.path);
            } else {
                allowed += 1;
            }
            // `kubectl auth can-i VERB RESOURCE --as` (a SelfSubjectAccessReview) agrees.
            if !p.resource.is_empty() && !p.path.contains('?') {
                let mut args = vec!["auth".to_string(), "can-i".into(), p.verb.into()];
                let (base, sub) = match p.resource.split_once('/') {
                    Some((b, s)) => (b, Some(s)),
                    None => (p.resource, None),
                };
                let qualified = if p.group.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}.{}", p.group)
                };
                args.push(match p.name {
                    Some(n) if base != "namespaces" => format!("{qualified}/{n}"),
                    _ => qualified,
                });
                if let Some(s) = sub {
                    args.push(format!("--subresource={s}"));
                }
                match p.namespace {
                    Some(ns) if base != "namespaces" => args.extend(["-n".into(), ns.to_string()]),
                    _ => {}
                }
                args.extend(["--as".into(), user.clone()]);
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = k.run(&argv).await;
                if base != "namespaces" || p.name.is_none() {
                    assert_eq!(
                        out.stdout.trim(),
                        if want { "yes" } else { "no" },
                        "{}",
                        out.describe()
                    );
                }
            }
        }
        match sa {
            "nobody" => assert_eq!(allowed, 2, "nobody reaches only discovery"),
            _ => assert!(allowed > 2, "{sa} is allowed something beyond discovery"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_identify_their_service_account_until_it_is_deleted() {
    let (sb, k) = setup().await;
    let out = k
        .ok(&[
            "create",
            "token",
            "reader",
            "-n",
            "team-a",
            "--duration=20m",
            "-o",
            "json",
        ])
        .await;
    let tr: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tr["kind"], "TokenRequest");
    assert_eq!(tr["spec"]["expirationSeconds"], 1200, "{tr}");
    let expires: jiff::Timestamp = tr["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((1100..=1200).contains(&left), "{left}");
    let token = tr["status"]["token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let whoami = k
        .ok(&["auth", "whoami", "--token", &token, "-o", "json"])
        .await;
    let who: Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(
        who["status"]["userInfo"]["username"],
        "system:serviceaccount:team-a:reader"
    );
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:team-a",
            "system:authenticated"
        ])
    );

    let short = k
        .run(&["create", "token", "reader", "-n", "team-a", "--duration=5m"])
        .await;
    assert_eq!(short.code, 1);
    assert!(short.stderr.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"), "{}", short.describe());
    let missing = k.run(&["create", "token", "ghost", "-n", "team-a"]).await;
    assert!(
        missing
            .stderr
            .contains("serviceaccounts \"ghost\" not found"),
        "{}",
        missing.describe()
    );

    // A token the kubelet would mount: added directly, authorized by RBAC like any other.
    sb.cluster().tokens.add(
        "pod-token",
        sealos_sandbox::auth::User::service_account("team-a", "reader"),
    );
    let pods = k
        .run(&["get", "pods", "-n", "team-a", "--token", "pod-token"])
        .await;
    assert_eq!(pods.code, 0, "{}", pods.describe());
    let secrets = k
        .run(&["get", "secrets", "-n", "team-a", "--token", "pod-token"])
        .await;
    assert!(secrets.stderr.contains("secrets is forbidden: User \"system:serviceaccount:team-a:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team-a\""), "{}", secrets.describe());

    k.ok(&["delete", "serviceaccount", "reader", "-n", "team-a"])
        .await;
    let revoked = k
        .run(&["get", "pods", "-n", "team-a", "--token", &token])
        .await;
    assert_eq!(revoked.code, 1);
    assert!(
        revoked.stderr.contains("Unauthorized"),
        "{}",
        revoked.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_is_for_those_allowed_to_impersonate() {
    let (sb, k) = setup().await;
    let mark = sb.request_log().len();
    let out = k
        .run(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "--as",
            "system:serviceaccount:team-a:reader",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.describe());
    let log = sb.request_log().since(mark);
    let listed = log
        .iter()
        .find(|r| r.path == "/api/v1/namespaces/team-a/pods")
        .unwrap();
    assert_eq!(listed.user, "system:serviceaccount:team-a:reader");
    assert_eq!(listed.impersonator.as_deref(), Some("sandbox-admin"));

    let refused = k
        .run(&[
            "get",
            "secrets",
            "-n",
            "team-a",
            "--as",
            "system:serviceaccount:team-a:reader",
        ])
        .await;
    assert!(refused.stderr.contains("secrets is forbidden: User \"system:serviceaccount:team-a:reader\" cannot list resource \"secrets\""), "{}", refused.describe());
    let as_group = k
        .run(&[
            "get",
            "secrets",
            "-n",
            "team-a",
            "--as",
            "someone",
            "--as-group",
            "system:masters",
        ])
        .await;
    assert_eq!(as_group.code, 0, "{}", as_group.describe());

    // A ServiceAccount without `impersonate` may not.
    let token = k
        .ok(&["create", "token", "reader", "-n", "team-a"])
        .await
        .trim()
        .to_string();
    let out = k
        .run(&[
            "get", "pods", "-n", "team-a", "--token", &token, "--as", "someone",
        ])
        .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("users \"someone\" is forbidden: User \"system:serviceaccount:team-a:reader\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"), "{}", out.describe());
    let out = k
        .run(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "--token",
            &token,
            "--as",
            "system:serviceaccount:team-b:x",
        ])
        .await;
    assert!(out.stderr.contains("serviceaccounts \"x\" is forbidden: User \"system:serviceaccount:team-a:reader\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"team-b\""), "{}", out.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_objects_print_as_upstream_and_keep_their_role() {
    let (sb, k) = setup().await;
    let out = k
        .ok(&["get", "rolebindings", "-n", "team-b", "-o", "wide"])
        .await;
    let row = out.lines().find(|l| l.starts_with("reader-view")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "ClusterRole/view", "{out}");
    assert_eq!(cells.last(), Some(&"team-a:reader"), "{out}");
    assert!(
        out.lines().next().unwrap().split_whitespace().eq([
            "NAME",
            "ROLE",
            "AGE",
            "USERS",
            "GROUPS",
            "SERVICEACCOUNTS"
        ]),
        "{out}"
    );
    let out = k.ok(&["get", "clusterroles"]).await;
    for name in ["cluster-admin", "system:discovery", "view", "auditor"] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name}: {out}"
        );
    }
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.lines().next().unwrap().contains("CREATED AT"), "{out}");

    // roleRef cannot change.
    let client = token_client(&sb, sb.token()).await;
    let p = Probe {
        method: "PATCH",
        path: "/apis/rbac.authorization.k8s.io/v1/namespaces/team-b/rolebindings/reader-view"
            .into(),
        body: Some(json!({"roleRef": {"name": "edit"}})),
        content_type: "application/merge-patch+json",
        verb: "patch",
        group: "rbac.authorization.k8s.io",
        resource: "rolebindings",
        namespace: Some("team-b"),
        name: Some("reader-view"),
    };
    assert_eq!(
        send(&client, &p).await,
        (422, "RoleBinding.rbac.authorization.k8s.io \"reader-view\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef".to_string())
    );
    // A binding to a missing role is named in the refusal.
    k.ok(&[
        "create",
        "rolebinding",
        "dangling",
        "-n",
        "team-a",
        "--role=gone",
        "--serviceaccount=team-a:nobody",
    ])
    .await;
    let out = k
        .run(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "--as",
            "system:serviceaccount:team-a:nobody",
        ])
        .await;
    assert!(out.stderr.contains("pods is forbidden: User \"system:serviceaccount:team-a:nobody\" cannot list resource \"pods\" in API group \"\" in the namespace \"team-a\": RBAC: role.rbac.authorization.k8s.io \"gone\" not found"), "{}", out.describe());
    // RBAC names are path segments: colons are fine, slashes are not.
    k.ok(&[
        "create",
        "clusterrole",
        "team:reader",
        "--verb=get",
        "--resource=pods",
    ])
    .await;
    let out = k
        .run(&[
            "create",
            "clusterrole",
            "team%reader",
            "--verb=get",
            "--resource=pods",
        ])
        .await;
    assert!(
        out.stderr
            .contains("metadata.name: Invalid value: \"team%reader\": may not contain '%'"),
        "{}",
        out.describe()
    );
    // Created by kubectl's generators (protobuf), then in force.
    k.ok(&[
        "create",
        "role",
        "cm-maker",
        "-n",
        "team-a",
        "--verb=create,list",
        "--resource=configmaps",
    ])
    .await;
    k.ok(&[
        "create",
        "rolebinding",
        "cm-maker",
        "-n",
        "team-a",
        "--role=cm-maker",
        "--serviceaccount=team-a:nobody",
    ])
    .await;
    let out = k
        .run(&[
            "auth",
            "can-i",
            "create",
            "configmaps",
            "-n",
            "team-a",
            "--as",
            "system:serviceaccount:team-a:nobody",
        ])
        .await;
    assert_eq!(out.stdout.trim(), "yes", "{}", out.describe());
    let rb = sb
        .object(
            "rbac.authorization.k8s.io",
            "rolebindings",
            "team-a",
            "cm-maker",
        )
        .unwrap();
    assert_eq!(
        rb["subjects"],
        json!([{"kind": "ServiceAccount", "name": "nobody", "namespace": "team-a"}])
    );
}
