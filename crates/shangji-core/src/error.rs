//! Errors of the pure core. Each names what is wrong and where, with a stable code.

use serde::Serialize;

/// A value that is not one of a closed set (a role, a stage kind…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// One invalid input field: `code` is stable snake_case, `message` is English for logs and
/// API clients; pages translate the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// Why a stage move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("stage {0} is not in this opportunity's pipeline")]
    UnknownStage(i64),
    #[error("stage {0} is archived")]
    ArchivedStage(i64),
    #[error("the opportunity is already in this stage")]
    SameStage,
    #[error("the opportunity is archived")]
    Archived,
    #[error("{0}")]
    Invalid(FieldError),
    #[error("the pipeline's transition policy refuses this move: {0:?}")]
    Policy(crate::process::PolicyError),
    #[error("requirements of the stage are not met")]
    Gate(Vec<crate::process::Unmet>),
    #[error("entering this stage needs an approval")]
    ApprovalRequired { policy_id: Option<i64> },
}
