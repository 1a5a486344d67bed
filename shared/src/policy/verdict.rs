//! The evaluator's answer: per layer, what decided and which objects decided it.

use serde::Serialize;

/// Allowed, refused, or not decidable from the objects (an external authorizer, an unknown
/// header, a port name the target does not declare...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allowed,
    Unknown,
    Refused,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Unknown => "cannot judge",
            Decision::Refused => "refused",
        }
    }
}

/// Where along the path a decision is taken, in the order a packet meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// NetworkPolicies selecting the source (its egress).
    Egress,
    /// NetworkPolicies selecting the destination (its ingress).
    Ingress,
    /// PeerAuthentication against the sidecars on both ends.
    Mtls,
    /// AuthorizationPolicies on the destination's proxy.
    Authorization,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Egress => "egress",
            Layer::Ingress => "ingress",
            Layer::Mtls => "mtls",
            Layer::Authorization => "authorization",
        }
    }
}

/// An object (and, where one rule decided, which) behind a decision.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Decider {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `egress[1]`, `rules[0]`, `portLevelMtls[8080]`; none when the object decided as a whole
    /// (a policy that selects the pod and admits nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Decider {
    pub fn new(kind: &str, namespace: &str, name: &str, rule: Option<String>) -> Decider {
        Decider {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            rule,
        }
    }

    /// `networkpolicy/ns/name egress[1]`.
    pub fn display(&self) -> String {
        let base = format!(
            "{}/{}/{}",
            self.kind.to_lowercase(),
            self.namespace,
            self.name
        );
        match &self.rule {
            Some(rule) => format!("{base} {rule}"),
            None => base,
        }
    }
}

/// One layer's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ruling {
    pub layer: Layer,
    pub decision: Decision,
    pub reason: String,
    pub deciders: Vec<Decider>,
}

impl Ruling {
    pub fn new(layer: Layer, decision: Decision, reason: impl Into<String>) -> Ruling {
        Ruling {
            layer,
            decision,
            reason: reason.into(),
            deciders: Vec::new(),
        }
    }

    pub fn by(mut self, deciders: Vec<Decider>) -> Ruling {
        self.deciders = deciders;
        self
    }
}

/// The whole answer: refused if a layer refuses, cannot judge if one cannot, else allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub steps: Vec<Ruling>,
}

impl Verdict {
    pub fn of(steps: Vec<Ruling>) -> Verdict {
        let decision = steps
            .iter()
            .map(|s| s.decision)
            .max()
            .unwrap_or(Decision::Allowed);
        Verdict { decision, steps }
    }

    pub fn step(&self, layer: Layer) -> Option<&Ruling> {
        self.steps.iter().find(|s| s.layer == layer)
    }

    /// The objects behind the final decision: those of the refusing (or undecidable) layers,
    /// or of every layer when allowed.
    pub fn deciders(&self) -> Vec<&Decider> {
        self.steps
            .iter()
            .filter(|s| s.decision == self.decision)
            .flat_map(|s| &s.deciders)
            .collect()
    }
}
