//! What a shift leaves behind besides the change itself: a line in the local audit log and a
//! Kubernetes Event on the Deployment, so `kubectl describe deployment` shows who moved the traffic.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::PostParams;

use crate::audit::{ObjectRef, Record};
use crate::connection::Kube;
use crate::error::{KubeContext, Result};

use super::setting::Setting;

/// The component name Events are reported under.
pub const EVENT_COMPONENT: &str = "kubectl-sealos";

/// The audit record of one shift of Deployment `namespace/name`.
#[allow(clippy::too_many_arguments)]
pub fn audit_record(
    kube: &Kube,
    plugin: &str,
    action: &str,
    namespace: &str,
    name: &str,
    container: &str,
    before: &Setting,
    after: &Setting,
    reason: Option<&str>,
    outcome: &str,
) -> Record {
    let mut record = Record::now(
        plugin,
        action,
        ObjectRef {
            kind: "Deployment".into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        },
    );
    record.context = kube.context.clone();
    record.user = kube.user.clone();
    let with_container = |s: &Setting| serde_json::json!({"container": container, "mode": s.mode, "percentage": s.percentage});
    record.before = with_container(before);
    record.after = with_container(after);
    record.reason = reason.map(str::to_string);
    record.outcome = outcome.to_string();
    record
}

/// What an Event says about one shift.
pub struct EventText<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: Option<String>,
    /// `TrafficShifted`, `TrafficRolledBack`.
    pub reason: &'a str,
    /// `Normal` or `Warning`.
    pub type_: &'a str,
    pub message: String,
    pub action: &'a str,
}

/// Creates a core/v1 Event on the Deployment (the kind `kubectl describe` and `get events` show).
pub async fn post_event(kube: &Kube, text: EventText<'_>) -> Result<()> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    // Unique as client-go makes them: the object's name and a hex timestamp.
    let suffix = format!(
        "{:x}",
        now.0.as_nanosecond().unsigned_abs() ^ u128::from(fastrand::u32(..))
    );
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{suffix}", text.name)),
            namespace: Some(text.namespace.to_string()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("Deployment".into()),
            namespace: Some(text.namespace.to_string()),
            name: Some(text.name.to_string()),
            uid: text.uid,
            ..ObjectReference::default()
        },
        reason: Some(text.reason.to_string()),
        message: Some(text.message),
        type_: Some(text.type_.to_string()),
        action: Some(text.action.to_string()),
        source: Some(EventSource {
            component: Some(EVENT_COMPONENT.into()),
            host: None,
        }),
        reporting_component: Some(EVENT_COMPONENT.into()),
        reporting_instance: Some(kube.user.clone()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(kube.client.clone(), text.namespace);
    api.create(&PostParams::default(), &event)
        .await
        .kube_context(|| {
            format!(
                "create event for deployment {:?} in {:?}",
                text.name, text.namespace
            )
        })?;
    Ok(())
}
