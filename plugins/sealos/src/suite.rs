//! The six plugins of the suite, as `kubectl sealos` lists them.

/// A plugin: its verb (`kubectl sealos <verb>`) and what it is for.
pub struct Plugin {
    pub verb: &'static str,
    pub about: &'static str,
}

pub const PLUGINS: [Plugin; 6] = [
    Plugin {
        verb: "health",
        about: "Judge the platform's health; watch Prometheus and alert",
    },
    Plugin {
        verb: "rollout",
        about: "Shift a controller's traffic between Ingress and Istio",
    },
    Plugin {
        verb: "cert",
        about: "Check, renew and back up cert-manager certificates",
    },
    Plugin {
        verb: "diag",
        about: "Diagnose connectivity and performance; run runbooks",
    },
    Plugin {
        verb: "backup",
        about: "Back up and restore the configuration (local or S3)",
    },
    Plugin {
        verb: "bench",
        about: "Benchmark the services behind the ingress gateway",
    },
];

/// The plugin named `verb`, if it is one of the suite's: only these names are ever run.
pub fn find(verb: &str) -> Option<&'static Plugin> {
    PLUGINS.iter().find(|p| p.verb == verb)
}
