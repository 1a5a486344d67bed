//! Columns and cells of the built-in kinds, as kubernetes/pkg/printers/internalversion/printers.go
//! produces them. The API server always prints with `Wide: true`; kubectl hides `priority: 1`
//! columns unless `-o wide`.

use super::{DESC_CREATED, DESC_NAME, age, col, since_text};
use crate::selector::{LabelSelector, format_label_selector, format_labels};
use jiff::Timestamp;
use serde_json::{Value, json};

const DESC_CONTAINERS: &str = "Names of each container in the template.";
const DESC_IMAGES: &str = "Images referenced by each container in the template.";

/// `columnDefinitions` of a built-in resource, or `None` when upstream has no printer for it.
pub(super) fn columns(group: &str, plural: &str) -> Option<Vec<Value>> {
    let name = || col("Name", "string", "name", DESC_NAME, 0);
    let age = || col("Age", "string", "", DESC_CREATED, 0);
    let s = |n: &str, d: &str| col(n, "string", "", d, 0);
    let i = |n: &str, d: &str| col(n, "integer", "", d, 0);
    let wide = |n: &str, d: &str| col(n, "string", "", d, 1);
    Some(match (group, plural) {
        ("", "pods") => vec![
            name(),
            s(
                "Ready",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            s(
                "Status",
                "The aggregate status of the containers in this pod.",
            ),
            s(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age(),
            wide(
                "IP",
                "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            wide(
                "Node",
                "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
            ),
            wide(
                "Nominated Node",
                "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
            ),
            wide(
                "Readiness Gates",
                "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
            ),
        ],
        ("", "services") => vec![
            name(),
            s(
                "Type",
                "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.",
            ),
            s(
                "Cluster-IP",
                "clusterIP is the IP address of the service and is usually assigned randomly.",
            ),
            s(
                "External-IP",
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            ),
            s(
                "Port(s)",
                "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
            ),
            age(),
            wide(
                "Selector",
                "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
            ),
        ],
        ("", "endpoints") => vec![
            name(),
            s(
                "Endpoints",
                "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
            ),
            age(),
        ],
        ("", "configmaps") => vec![
            name(),
            s(
                "Data",
                "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
            ),
            age(),
        ],
        ("", "secrets") => vec![
            name(),
            s(
                "Type",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            s(
                "Data",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            age(),
        ],
        ("", "events") => vec![
            s(
                "Last Seen",
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            s(
                "Type",
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            s(
                "Reason",
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            s("Object", "The object that this event is about."),
            wide(
                "Subobject",
                "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
            ),
            wide(
                "Source",
                "The component reporting this event. Should be a short machine understandable string.",
            ),
            s(
                "Message",
                "A human-readable description of the status of this operation.",
            ),
            wide(
                "First Seen",
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            wide("Count", "The number of times this event has occurred."),
            col("Name", "string", "name", DESC_NAME, 1),
        ],
        ("", "serviceaccounts") => vec![
            name(),
            s(
                "Secrets",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            age(),
        ],
        ("", "nodes") => vec![
            name(),
            s("Status", "The status of the node"),
            s("Roles", "The roles of the node"),
            age(),
            s("Version", "Kubelet Version reported by the node."),
            wide(
                "Internal-IP",
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            wide(
                "External-IP",
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            wide(
                "OS-Image",
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            wide(
                "Kernel-Version",
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            wide(
                "Container-Runtime",
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
        ("", "namespaces") => vec![name(), s("Status", "The status of the namespace"), age()],
        ("apps", "deployments") => vec![
            name(),
            s("Ready", "Number of the pod with ready state"),
            s(
                "Up-to-date",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            s(
                "Available",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age(),
            wide("Containers", DESC_CONTAINERS),
            wide("Images", DESC_IMAGES),
            wide(
                "Selector",
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ],
        ("apps", "replicasets") => vec![
            name(),
            i(
                "Desired",
                "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
            ),
            i(
                "Current",
                "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
            ),
            i(
                "Ready",
                "readyReplicas is the number of pods targeted by this ReplicaSet with a Ready Condition.",
            ),
            age(),
            wide("Containers", DESC_CONTAINERS),
            wide("Images", DESC_IMAGES),
            wide(
                "Selector",
                "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ],
        ("batch", "jobs") => vec![
            name(),
            s("Status", "Status of the job."),
            s(
                "Completions",
                "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
            ),
            s("Duration", "Time required to complete the job."),
            age(),
            wide("Containers", DESC_CONTAINERS),
            wide("Images", DESC_IMAGES),
            wide(
                "Selector",
                "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ],
        ("batch", "cronjobs") => vec![
            name(),
            s(
                "Schedule",
                "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
            ),
            s(
                "Timezone",
                "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
            ),
            col(
                "Suspend",
                "boolean",
                "",
                "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
                0,
            ),
            i("Active", "A list of pointers to currently running jobs."),
            s(
                "Last Schedule",
                "Information when was the last time the job was successfully scheduled.",
            ),
            age(),
            wide("Containers", DESC_CONTAINERS),
            wide("Images", DESC_IMAGES),
            wide(
                "Selector",
                "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ],
        ("apps", "daemonsets") => vec![
            name(),
            i(
                "Desired",
                "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
            ),
            i(
                "Current",
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
            ),
            i(
                "Ready",
                "Total number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
            ),
            i(
                "Up-to-date",
                "The total number of nodes that are running updated daemon pod",
            ),
            i(
                "Available",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            ),
            s(
                "Node Selector",
                "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
            ),
            age(),
            wide("Containers", DESC_CONTAINERS),
            wide("Images", DESC_IMAGES),
            wide(
                "Selector",
                "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ],
        ("apps", "statefulsets") => vec![
            name(),
            s("Ready", "Number of the pod with ready state"),
            age(),
            wide("Containers", DESC_CONTAINERS),
            wide("Images", DESC_IMAGES),
        ],
        ("networking.k8s.io", "networkpolicies") => vec![
            name(),
            s(
                "Pod-Selector",
                "Selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
            ),
            age(),
        ],
        ("networking.k8s.io", "ingresses") => vec![
            name(),
            s(
                "Class",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            s(
                "Hosts",
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            s(
                "Address",
                "Address is a list containing ingress points for the load-balancer",
            ),
            s("Ports", "Ports of TLS configurations that open"),
            age(),
        ],
        ("policy", "poddisruptionbudgets") => vec![
            name(),
            s(
                "Min Available",
                "The minimum number of pods that must be available.",
            ),
            s(
                "Max Unavailable",
                "The maximum number of pods that may be unavailable.",
            ),
            i(
                "Allowed Disruptions",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            age(),
        ],
        _ => return super::rbac::columns(group, plural),
    })
}

/// The cells of one row, in column order, or `None` when upstream has no printer.
pub(super) fn cells(group: &str, plural: &str, obj: &Value, now: Timestamp) -> Option<Vec<Value>> {
    let name = json!(text(obj, &["metadata", "name"]));
    let age = json!(age(obj.pointer("/metadata/creationTimestamp"), now));
    Some(match (group, plural) {
        ("", "pods") => pod_cells(obj, now),
        ("", "services") => service_cells(obj, now),
        ("", "endpoints") => vec![name, json!(format_endpoints(obj)), age],
        ("", "configmaps") => vec![
            name,
            json!(count(obj, "data") + count(obj, "binaryData")),
            age,
        ],
        ("", "secrets") => vec![
            name,
            json!(text(obj, &["type"])),
            json!(secret_data_count(obj)),
            age,
        ],
        ("", "events") => event_cells(obj, now),
        ("", "serviceaccounts") => vec![name, json!(len(obj.pointer("/secrets"))), age],
        ("", "nodes") => node_cells(obj, now),
        ("", "namespaces") => vec![name, json!(text(obj, &["status", "phase"])), age],
        ("apps", "deployments") => {
            let (containers, images) =
                layout_containers(obj.pointer("/spec/template/spec/containers"));
            let selector = match obj.pointer("/spec/selector") {
                None | Some(Value::Null) => String::new(),
                Some(sel) => LabelSelector::from_spec(sel)
                    .map_or_else(|_| "<invalid>".to_string(), |s| s.to_string()),
            };
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(obj, "/status/readyReplicas"),
                    replicas(obj)
                )),
                json!(int(obj, "/status/updatedReplicas")),
                json!(int(obj, "/status/availableReplicas")),
                age,
                json!(containers),
                json!(images),
                json!(selector),
            ]
        }
        ("batch", "jobs") => job_cells(obj, now),
        ("batch", "cronjobs") => {
            let (containers, images) =
                layout_containers(obj.pointer("/spec/jobTemplate/spec/template/spec/containers"));
            let last = match obj
                .pointer("/status/lastScheduleTime")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<Timestamp>().ok())
            {
                Some(t) => since_text(t, now),
                None => "<none>".to_string(),
            };
            vec![
                name,
                json!(text(obj, &["spec", "schedule"])),
                json!(
                    obj.pointer("/spec/timeZone")
                        .and_then(Value::as_str)
                        .unwrap_or("<none>")
                ),
                json!(
                    obj.pointer("/spec/suspend")
                        .and_then(Value::as_bool)
                        .map_or("<unset>", |b| if b { "True" } else { "False" })
                ),
                json!(len(obj.pointer("/status/active"))),
                json!(last),
                age,
                json!(containers),
                json!(images),
                json!(selector_text(
                    obj.pointer("/spec/jobTemplate/spec/selector")
                )),
            ]
        }
        ("apps", "replicasets") => {
            let (containers, images) =
                layout_containers(obj.pointer("/spec/template/spec/containers"));
            vec![
                name,
                json!(replicas(obj)),
                json!(int(obj, "/status/replicas")),
                json!(int(obj, "/status/readyReplicas")),
                age,
                json!(containers),
                json!(images),
                json!(selector_text(obj.pointer("/spec/selector"))),
            ]
        }
        ("apps", "daemonsets") => {
            let (containers, images) =
                layout_containers(obj.pointer("/spec/template/spec/containers"));
            vec![
                name,
                json!(int(obj, "/status/desiredNumberScheduled")),
                json!(int(obj, "/status/currentNumberScheduled")),
                json!(int(obj, "/status/numberReady")),
                json!(int(obj, "/status/updatedNumberScheduled")),
                json!(int(obj, "/status/numberAvailable")),
                json!(format_labels(
                    obj.pointer("/spec/template/spec/nodeSelector")
                )),
                age,
                json!(containers),
                json!(images),
                json!(selector_text(obj.pointer("/spec/selector"))),
            ]
        }
        ("apps", "statefulsets") => {
            let (containers, images) =
                layout_containers(obj.pointer("/spec/template/spec/containers"));
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(obj, "/status/readyReplicas"),
                    replicas(obj)
                )),
                age,
                json!(containers),
                json!(images),
            ]
        }
        ("networking.k8s.io", "networkpolicies") => {
            // podSelector is not a pointer: absent means {} (all pods).
            let sel = obj
                .pointer("/spec/podSelector")
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(json!({}));
            vec![name, json!(format_label_selector(&sel)), age]
        }
        ("networking.k8s.io", "ingresses") => {
            let class = obj
                .pointer("/spec/ingressClassName")
                .and_then(Value::as_str)
                .unwrap_or("<none>");
            let ports = if len(obj.pointer("/spec/tls")) > 0 {
                "80, 443"
            } else {
                "80"
            };
            vec![
                name,
                json!(class),
                json!(format_hosts(obj.pointer("/spec/rules"))),
                json!(load_balancer_text(
                    obj.pointer("/status/loadBalancer/ingress")
                )),
                json!(ports),
                age,
            ]
        }
        ("policy", "poddisruptionbudgets") => vec![
            name,
            json!(int_or_string(obj.pointer("/spec/minAvailable"))),
            json!(int_or_string(obj.pointer("/spec/maxUnavailable"))),
            json!(int(obj, "/status/disruptionsAllowed")),
            age,
        ],
        _ => return super::rbac::cells(group, plural, obj, now),
    })
}

/// `conditions` of a row: pods that finished are marked `Completed` (kubectl uses it to dim them).
pub(super) fn row_conditions(group: &str, plural: &str, obj: &Value) -> Option<Value> {
    if (group, plural) != ("", "pods") {
        return None;
    }
    match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."}]),
        ),
        Some("Failed") => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."}]),
        ),
        _ => None,
    }
}

// ---- small accessors

fn text(obj: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(obj, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn len(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Array(a)) => a.len() as i64,
        Some(Value::Object(m)) => m.len() as i64,
        _ => 0,
    }
}

fn count(obj: &Value, field: &str) -> i64 {
    len(obj.get(field))
}

/// `spec.replicas`, defaulted to 1 as the API server defaults it.
fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Keys of `data` (and of `stringData`, which the server folds into `data` on write).
fn secret_data_count(obj: &Value) -> i64 {
    let mut keys: Vec<&String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(m) = obj.get(field).and_then(Value::as_object) {
            keys.extend(m.keys());
        }
    }
    keys.sort();
    keys.dedup();
    keys.len() as i64
}

fn selector_text(sel: Option<&Value>) -> String {
    format_label_selector(sel.unwrap_or(&Value::Null))
}

fn int_or_string(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "N/A".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `layoutContainerCells`: names and images joined by `,`.
fn layout_containers(containers: Option<&Value>) -> (String, String) {
    let list = containers
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let names: Vec<&str> = list
        .iter()
        .map(|c| c.get("name").and_then(Value::as_str).unwrap_or_default())
        .collect();
    let images: Vec<&str> = list
        .iter()
        .map(|c| c.get("image").and_then(Value::as_str).unwrap_or_default())
        .collect();
    (names.join(","), images.join(","))
}

/// Load-balancer ingress IPs (else hostnames), sorted and de-duplicated; the server prints wide,
/// so nothing is clipped.
fn load_balancer_text(ingress: Option<&Value>) -> String {
    let mut out: Vec<String> = ingress
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    let ip = i.get("ip").and_then(Value::as_str).unwrap_or_default();
                    let host = i
                        .get("hostname")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if !ip.is_empty() {
                        Some(ip.to_string())
                    } else if !host.is_empty() {
                        Some(host.to_string())
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out.join(",")
}

fn format_hosts(rules: Option<&Value>) -> String {
    let rules = rules
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let max = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == max {
            more = true;
        }
        let host = rule.get("host").and_then(Value::as_str).unwrap_or_default();
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - max)
    } else {
        joined
    }
}

/// `formatEndpoints(endpoints, nil)`: up to three `ip:port`, then `+ N more...`.
fn format_endpoints(obj: &Value) -> String {
    let subsets = obj
        .get("subsets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let max = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut total = 0;
    for ss in subsets {
        let addresses = ss
            .get("addresses")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let ports = ss
            .get("ports")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let ip = |a: &Value| {
            a.get("ip")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        if ports.is_empty() {
            total += addresses.len();
            for a in addresses {
                if list.len() == max {
                    more = true;
                    break;
                }
                list.push(ip(a));
            }
            continue;
        }
        for port in ports {
            total += addresses.len();
            let p = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            for a in addresses {
                if list.len() == max {
                    more = true;
                    break;
                }
                let host = ip(a);
                list.push(if host.contains(':') {
                    format!("[{host}]:{p}")
                } else {
                    format!("{host}:{p}")
                });
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", total - max)
    } else {
        joined
    }
}

// ---- pods

/// printPod: READY, STATUS (the reason logic), RESTARTS with the last restart's age, and the
/// wide IP / NODE / NOMINATED NODE / READINESS GATES.
fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let init_specs = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let status = pod.get("status").cloned().unwrap_or(Value::Null);
    let phase = status
        .get("phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut reason = phase.clone();
    if let Some(r) = status
        .get("reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        reason = r.to_string();
    }
    let conditions = status
        .get("conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|c| str_of(c, "type") == "PodScheduled" && str_of(c, "reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }

    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| str_of(c, "name") == name && str_of(c, "restartPolicy") == "Always")
    };
    let total = containers.len() as i64
        + init_specs
            .iter()
            .filter(|c| str_of(c, "restartPolicy") == "Always")
            .count() as i64;
    let mut ready = 0i64;
    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_restart: Option<Timestamp> = None;
    let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let finished = |c: &Value| {
        c.pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
    };

    let init_statuses = status
        .get("initContainerStatuses")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut initializing = false;
    for (i, c) in init_statuses.iter().enumerate() {
        let rc = c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        restarts += rc;
        last_restart = later(last_restart, finished(c));
        let is_restartable = restartable(str_of(c, "name"));
        if is_restartable {
            restartable_restarts += rc;
            last_restartable_restart = later(last_restartable_restart, finished(c));
        }
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = c
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if terminated.is_some_and(|t| t.get("exitCode").and_then(Value::as_i64).unwrap_or(0) == 0) {
            continue;
        }
        if is_restartable && c.get("started").and_then(Value::as_bool) == Some(true) {
            if c.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = str_of(t, "reason");
            reason = if r.is_empty() {
                let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                if signal != 0 {
                    format!("Init:Signal:{signal}")
                } else {
                    format!(
                        "Init:ExitCode:{}",
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                    )
                }
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .any(|c| str_of(c, "type") == "Initialized" && str_of(c, "status") == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        let statuses = status
            .get("containerStatuses")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for c in statuses.iter().rev() {
            restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            last_restart = later(last_restart, finished(c));
            let waiting_reason = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let terminated = c.pointer("/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let r = str_of(t, "reason");
                reason = if !r.is_empty() {
                    r.to_string()
                } else {
                    let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
                    if signal != 0 {
                        format!("Signal:{signal}")
                    } else {
                        format!(
                            "ExitCode:{}",
                            t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                        )
                    }
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| str_of(c, "type") == "Ready" && str_of(c, "status") == "True");
            reason = if pod_ready {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && str_of(&status, "reason") == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_text = match last_restart {
        Some(ts) if restarts != 0 => format!("{restarts} ({} ago)", since_text(ts, now)),
        _ => restarts.to_string(),
    };

    // The internal type keeps podIPs only; v1's podIP converts into it when podIPs is empty.
    let pod_ip = status
        .pointer("/podIPs/0/ip")
        .and_then(Value::as_str)
        .or_else(|| status.get("podIP").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let nominated = status
        .get("nominatedNodeName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let gates = pod
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = str_of(g, "conditionType");
                conditions
                    .iter()
                    .find(|c| str_of(c, "type") == t)
                    .is_some_and(|c| str_of(c, "status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    vec![
        json!(text(pod, &["metadata", "name"])),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        json!(age(pod.pointer("/metadata/creationTimestamp"), now)),
        json!(pod_ip),
        json!(node),
        json!(nominated),
        json!(readiness_gates),
    ]
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

// ---- services

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    let spec = svc.get("spec").cloned().unwrap_or(Value::Null);
    // Defaulted by the API server on create.
    let svc_type = spec
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("ClusterIP");
    let cluster_ip = spec
        .pointer("/clusterIPs/0")
        .and_then(Value::as_str)
        .or_else(|| spec.get("clusterIP").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let external = match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_text(svc.pointer("/status/loadBalancer/ingress"));
            if !external_ips.is_empty() {
                let mut all: Vec<String> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').map(String::from).collect()
                };
                all.extend(external_ips.iter().map(|s| s.to_string()));
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => spec
            .get("externalName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n > 0) {
                        Some(np) => format!("{port}:{np}/{proto}"),
                        None => format!("{port}/{proto}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        json!(text(svc, &["metadata", "name"])),
        json!(svc_type),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        json!(age(svc.pointer("/metadata/creationTimestamp"), now)),
        json!(format_labels(spec.get("selector"))),
    ]
}

// ---- events

fn event_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    let ts = |p: &str| {
        ev.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse::<Timestamp>().ok())
    };
    let first = match ts("/firstTimestamp") {
        Some(t) => since_text(t, now),
        None => ts("/eventTime").map_or_else(|| "<unknown>".to_string(), |t| since_text(t, now)),
    };
    let mut last = match ts("/lastTimestamp") {
        Some(t) => since_text(t, now),
        None => first.clone(),
    };
    let mut count = ev.get("count").and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = ev.get("series").filter(|s| !s.is_null()) {
        last = series
            .get("lastObservedTime")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
            .map_or_else(|| "<unknown>".to_string(), |t| since_text(t, now));
        count = series.get("count").and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = text(ev, &["involvedObject", "kind"]).to_lowercase();
    let involved = text(ev, &["involvedObject", "name"]);
    let target = if involved.is_empty() {
        kind
    } else {
        format!("{kind}/{involved}")
    };
    let first_non_empty = |a: String, b: String| if a.is_empty() { b } else { a };
    let component = first_non_empty(
        text(ev, &["source", "component"]),
        text(ev, &["reportingComponent"]),
    );
    let instance = first_non_empty(
        text(ev, &["source", "host"]),
        text(ev, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(text(ev, &["type"])),
        json!(text(ev, &["reason"])),
        json!(target),
        json!(text(ev, &["involvedObject", "fieldPath"])),
        json!(source),
        json!(text(ev, &["message"]).trim()),
        json!(first),
        json!(count),
        json!(text(ev, &["metadata", "name"])),
    ]
}

// ---- nodes

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let conditions = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut status: Vec<String> = Vec::new();
    if let Some(c) = conditions
        .iter()
        .rev()
        .find(|c| str_of(c, "type") == "Ready")
    {
        status.push(if str_of(c, "status") == "True" {
            "Ready".to_string()
        } else {
            "NotReady".to_string()
        });
    }
    if status.is_empty() {
        status.push("Unknown".to_string());
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".to_string());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k
                .strip_prefix("node-role.kubernetes.io/")
                .filter(|r| !r.is_empty())
            {
                roles.push(role.to_string());
            } else if let Some(v) = v
                .as_str()
                .filter(|v| k == "kubernetes.io/role" && !v.is_empty())
            {
                roles.push(v.to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let address = |kind: &str| {
        node.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| str_of(x, "type") == kind))
            .map_or_else(
                || "<none>".to_string(),
                |x| str_of(x, "address").to_string(),
            )
    };
    let info = |field: &str| {
        let v = text(node, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v
        }
    };
    vec![
        json!(text(node, &["metadata", "name"])),
        json!(status.join(",")),
        json!(roles),
        json!(age(node.pointer("/metadata/creationTimestamp"), now)),
        json!(text(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn has_condition(obj: &Value, t: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
}

/// `printJob`: status from the conditions, `succeeded/completions`, and how long it ran.
fn job_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(obj, "/status/succeeded");
    let completions = match obj.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match obj.pointer("/spec/parallelism").and_then(Value::as_i64) {
            Some(p) if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let ts = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
    };
    let duration = match (ts("/status/startTime"), ts("/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => super::human_duration(now.duration_since(start)),
        (Some(start), Some(end)) => super::human_duration(end.duration_since(start)),
    };
    let status = if has_condition(obj, "Complete") {
        "Complete"
    } else if has_condition(obj, "Failed") {
        "Failed"
    } else if obj.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if has_condition(obj, "Suspended") {
        "Suspended"
    } else if has_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (containers, images) = layout_containers(obj.pointer("/spec/template/spec/containers"));
    vec![
        json!(text(obj, &["metadata", "name"])),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(obj.pointer("/metadata/creationTimestamp"), now)),
        json!(containers),
        json!(images),
        json!(selector_text(obj.pointer("/spec/selector"))),
    ]
}
