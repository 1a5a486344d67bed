"""Drives the sandbox with the official Kubernetes Python client, as a new user would, and
prints what it saw as one JSON object (the Rust test asserts on it)."""
import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
rbac = client.RbacAuthorizationV1Api()
seen = {}


def refused(call):
    try:
        call()
    except ApiException as e:
        return {"status": e.status, "message": json.loads(e.body).get("message")}
    return None


seen["namespaces"] = sorted(n.metadata.name for n in core.list_namespace().items)
seen["deployments"] = sorted(
    f"{d.metadata.namespace}/{d.metadata.name}" for d in apps.list_deployment_for_all_namespaces().items
)

cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm"), data={"a": "1"})
created = core.create_namespaced_config_map("default", cm)
seen["created_rv"] = created.metadata.resource_version

# Watch from the list's resourceVersion: the patch below shows up as MODIFIED.
listed = core.list_namespaced_config_map("default")
core.patch_namespaced_config_map("py-cm", "default", {"data": {"a": "2"}})
events = []
w = watch.Watch()
for ev in w.stream(
    core.list_namespaced_config_map,
    "default",
    resource_version=listed.metadata.resource_version,
    timeout_seconds=10,
):
    events.append([ev["type"], ev["object"].metadata.name, (ev["object"].data or {}).get("a")])
    if ev["type"] == "MODIFIED" and ev["object"].metadata.name == "py-cm":
        w.stop()
seen["events"] = events
seen["patched"] = core.read_namespaced_config_map("py-cm", "default").data

seen["bad_name"] = refused(
    lambda: core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Bad_Name"))
    )
)

# A ServiceAccount, a Role and a binding, then the account's own token.
core.create_namespaced_service_account("default", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="py-sa")))
rbac.create_namespaced_role(
    "default",
    client.V1Role(
        metadata=client.V1ObjectMeta(name="py-cm-reader"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list"])],
    ),
)
rbac.create_namespaced_role_binding(
    "default",
    client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="py-cm-reader"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="py-cm-reader"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="py-sa", namespace="default")],
    ),
)
token = core.create_namespaced_service_account_token(
    "py-sa", "default", client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
).status.token
sa_config = client.Configuration.get_default_copy()
sa_config.api_key = {"authorization": "Bearer " + token}
sa_config.refresh_api_key_hook = None  # the kubeconfig loader's hook would restore the admin token
sa_core = client.CoreV1Api(client.ApiClient(sa_config))
seen["sa_configmaps"] = sorted(c.metadata.name for c in sa_core.list_namespaced_config_map("default").items)
seen["sa_pods"] = refused(lambda: sa_core.list_namespaced_pod("default"))
seen["roles"] = [r.metadata.name for r in rbac.list_namespaced_role("default").items]

print(json.dumps(seen))
