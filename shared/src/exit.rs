//! The suite's exit codes. They never depend on `-o`.

use std::process::ExitCode;

/// How a command ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Done, nothing wrong found.
    Ok,
    /// Done, and a problem was found (unhealthy, expiring, rollout failed, regression, SLO missed).
    Problem,
    /// Could not do the job: bad arguments, kubeconfig, auth, an unreachable API server.
    Failure,
    /// Interrupted by Ctrl-C or SIGTERM, after cleaning up.
    Interrupted,
}

impl Exit {
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Problem => 1,
            Exit::Failure => 2,
            Exit::Interrupted => 130,
        }
    }

    /// `Problem` when `found` is true, else `Ok`: the common ending of a check.
    pub const fn problem_if(found: bool) -> Exit {
        if found { Exit::Problem } else { Exit::Ok }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Problem.code(), 1);
        assert_eq!(Exit::Failure.code(), 2);
        assert_eq!(Exit::Interrupted.code(), 130);
        assert_eq!(Exit::problem_if(true), Exit::Problem);
        assert_eq!(Exit::problem_if(false), Exit::Ok);
    }

    #[test]
    fn worse_endings_order_after_better_ones() {
        assert!(Exit::Ok < Exit::Problem && Exit::Problem < Exit::Failure);
    }
}
