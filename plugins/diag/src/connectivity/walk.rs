//! The walk: read what the path needs (lists, once each), then run the steps in the order a
//! request takes them. Each step is one function in `steps.rs`; what it finds becomes its
//! typed verdict here, and what it learns (the Services, VirtualServices, hosts, Gateways) is
//! passed on to the steps after it.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::ResourceExt;
use sealos_shared::certs::Thresholds;
use sealos_shared::connection::Kube;
use sealos_shared::error::Result;
use sealos_shared::resources::istio::{DestinationRule, Gateway, VirtualService};

use super::steps;
use super::{ConnectivityArgs, Step, Verdict};
use crate::finding::{Finding, ObjectRef};
use crate::list::all;

/// The steps, in the order a request takes them, and the function that checks each.
const STEPS: [(&str, StepName); 7] = [
    ("pods", StepName::Pods),
    ("service", StepName::Service),
    ("virtualservice", StepName::VirtualService),
    ("destinationrule", StepName::DestinationRule),
    ("gateway", StepName::Gateway),
    ("envoy", StepName::Envoy),
    ("certificate", StepName::Certificate),
];

#[derive(Debug, Clone, Copy)]
enum StepName {
    Pods,
    Service,
    VirtualService,
    DestinationRule,
    Gateway,
    Envoy,
    Certificate,
}

/// What the walk read up front; every step reads from it.
pub(super) struct Inputs<'a> {
    pub args: &'a ConnectivityArgs,
    pub kube: &'a Kube,
    pub ns: &'a str,
    pub selector: String,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub endpoints: Vec<Endpoints>,
    pub virtual_services: Vec<VirtualService>,
    pub gateways: Vec<Gateway>,
    pub rules: Vec<DestinationRule>,
    pub now: jiff::Timestamp,
    pub thresholds: Thresholds,
}

/// What earlier steps learned for the later ones.
#[derive(Default)]
pub(super) struct Learned<'a> {
    /// The app's Services (step service).
    pub service_names: Vec<String>,
    /// The VirtualServices routing to them or serving --host (step virtualservice).
    pub relevant: Vec<&'a VirtualService>,
    /// The hosts users call: --host, else the relevant VirtualServices' external hosts.
    pub hosts: Vec<String>,
    /// Gateways the relevant VirtualServices bind, as (namespace, name).
    pub used_gateways: BTreeSet<(String, String)>,
    /// Route destinations naming a subset, for step destinationrule.
    pub subsets: Vec<SubsetRef>,
    /// The credentialName Secrets the gateways serve, as (namespace, name) (step gateway).
    pub credential_secrets: Vec<(String, String)>,
}

/// A route's destination that names a subset.
pub(super) struct SubsetRef {
    pub namespace: String,
    pub service: String,
    pub subset: String,
    /// The VirtualService that routes there.
    pub route: ObjectRef,
}

/// What one step saw: findings and a summary, or why it did not run.
pub(super) enum Checked {
    Judged(String, Vec<Finding>),
    Skipped(String),
}

/// The walk's result: a verdict per step, every finding, the selector and hosts it used.
pub struct Walked {
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    pub selector: String,
    pub hosts: Vec<String>,
}

pub async fn walk(args: &ConnectivityArgs, kube: &Kube) -> Result<Walked> {
    let client = &kube.client;
    let ns = kube.namespace.as_str();
    let selector = args
        .selector
        .clone()
        .unwrap_or_else(|| format!("app={}", args.app));
    let (pods, services, endpoints, virtual_services, gateways, rules) = futures::try_join!(
        all::<Pod>(client, Some(ns), Some(&selector)),
        all::<Service>(client, Some(ns), None),
        all::<Endpoints>(client, Some(ns), None),
        all::<VirtualService>(client, None, None),
        all::<Gateway>(client, None, None),
        all::<DestinationRule>(client, None, None),
    )?;
    let inputs = Inputs {
        args,
        kube,
        ns,
        selector,
        pods,
        services,
        endpoints,
        virtual_services,
        gateways,
        rules,
        now: jiff::Timestamp::now(),
        thresholds: Thresholds {
            warn_days: args.warn_days,
            crit_days: args.crit_days,
        },
    };
    let mut learned = Learned::default();
    let mut walked = Walked {
        steps: Vec::new(),
        findings: Vec::new(),
        selector: inputs.selector.clone(),
        hosts: Vec::new(),
    };
    for (name, step) in STEPS {
        let checked = match step {
            StepName::Pods => steps::pods(&inputs),
            StepName::Service => steps::service(&inputs, &mut learned),
            StepName::VirtualService => steps::virtual_service(&inputs, &mut learned).await?,
            StepName::DestinationRule => steps::destination_rule(&inputs, &learned).await?,
            StepName::Gateway => steps::gateway(&inputs, &mut learned).await?,
            StepName::Envoy => steps::envoy(&inputs, &learned).await,
            StepName::Certificate => steps::certificate(&inputs, &learned).await?,
        };
        let (verdict, summary) = match checked {
            Checked::Judged(summary, findings) => {
                let verdict = Verdict::of(&findings);
                walked.findings.extend(findings);
                (verdict, summary)
            }
            Checked::Skipped(why) => (Verdict::Skipped, why),
        };
        walked.steps.push(Step {
            step: name,
            verdict,
            summary,
        });
    }
    walked.hosts = learned.hosts;
    Ok(walked)
}

/// The VirtualService's route destinations (HTTP, TCP and TLS routes).
pub(super) fn destinations(
    vs: &VirtualService,
) -> impl Iterator<Item = &sealos_shared::resources::istio::Destination> {
    vs.spec
        .http
        .iter()
        .chain(&vs.spec.tcp)
        .chain(&vs.spec.tls)
        .flat_map(|r| r.route.iter().map(|d| &d.destination))
}

/// `namespace/name` of VirtualServices, for summaries.
pub(super) fn names(virtual_services: &[&VirtualService]) -> String {
    virtual_services
        .iter()
        .map(|vs| format!("{}/{}", vs.namespace().unwrap_or_default(), vs.name_any()))
        .collect::<Vec<_>>()
        .join(", ")
}
