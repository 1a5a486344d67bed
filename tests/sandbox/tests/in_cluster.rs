//! A Job reads the API with its pod's ServiceAccount token, as a program in a real cluster does
//! (token, CA and namespace from /var/run/secrets/kubernetes.io/serviceaccount, the server from
//! KUBERNETES_SERVICE_HOST/PORT), and RBAC decides what it may do.
#![allow(clippy::unwrap_used)]

mod common;

use common::workloads::{self, IMAGE};
use common::{Kubectl, wait_for};
use sealos_sandbox::kubelet::Isolation;
use serde_json::Value;

/// Lists the pods of its own namespace with the in-cluster credentials; prints the API's
/// message and exits 1 when refused.
const LIST_PODS: &str = r#"exec python3 - <<'PY'
import json, os, ssl, sys, urllib.error, urllib.request
d = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(d + "/token").read()
ns = open(d + "/namespace").read()
ctx = ssl.create_default_context(cafile=d + "/ca.crt")
url = "https://%s:%s/api/v1/namespaces/%s/pods" % (
    os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"], ns)
req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
try:
    items = json.load(urllib.request.urlopen(req, context=ctx))["items"]
    print("pods: " + " ".join(p["metadata"]["name"] for p in items))
except urllib.error.HTTPError as e:
    print("error: %d %s" % (e.code, json.load(e)["message"]))
    sys.exit(1)
PY
"#;

fn condition(obj: &Value, t: &str) -> Option<Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t && c["status"] == "True")
        .cloned()
}

async fn namespace_with_role(k: &Kubectl, ns: &str, verbs: &str) {
    k.ok(&["create", "namespace", ns]).await;
    k.ok(&[
        "-n",
        ns,
        "create",
        "role",
        "pods",
        &format!("--verb={verbs}"),
        "--resource=pods",
    ])
    .await;
    k.ok(&[
        "-n",
        ns,
        "create",
        "rolebinding",
        "pods",
        "--role=pods",
        &format!("--serviceaccount={ns}:default"),
    ])
    .await;
}

#[tokio::test]
async fn a_job_reads_pods_only_when_its_role_allows_it() {
    let dir = workloads::image_dir();
    workloads::write_script(dir.path(), "list-pods", LIST_PODS);
    // Job back-offs (10 s, 20 s, ...) pass a thousand times as fast.
    let sb = workloads::sandbox(dir.path(), 1000.0).await;
    assert_eq!(
        sb.kubelet().isolation(),
        Isolation::MountNamespace,
        "this test needs root and util-linux unshare for the in-cluster paths"
    );
    let k = Kubectl::new(&sb);
    namespace_with_role(&k, "team", "get,list").await;
    namespace_with_role(&k, "locked", "get").await;
    for ns in ["team", "locked"] {
        k.ok(&[
            "-n",
            ns,
            "create",
            "job",
            "hello",
            &format!("--image={IMAGE}"),
            "--",
            "list-pods",
        ])
        .await;
    }
    wait_for("the allowed Job to complete", || {
        sb.object("batch", "jobs", "team", "hello")
            .filter(|j| condition(j, "Complete").is_some())
    })
    .await;
    let report = k.ok(&["-n", "team", "logs", "job/hello"]).await;
    assert!(report.starts_with("pods: hello-"), "{report}");
    let failed = wait_for("the refused Job to fail", || {
        sb.object("batch", "jobs", "locked", "hello")
            .filter(|j| condition(j, "Failed").is_some())
    })
    .await;
    assert_eq!(
        condition(&failed, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        failed["status"]["failed"], 7,
        "kubectl's Job allows 6 retries"
    );
    let refused = k.ok(&["-n", "locked", "logs", "job/hello"]).await;
    assert_eq!(
        refused.trim(),
        "error: 403 pods is forbidden: User \"system:serviceaccount:locked:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"locked\"",
    );
    sb.shutdown().await;
}
