//! One module per command group; each turns flags into service calls and
//! prints the result as a table or, with `--json`, as JSON.

pub mod credentials;
pub mod demo;
pub mod keys;
pub mod serve;
pub mod sync;
pub mod users;

use std::process::ExitCode;

use pinion_service::ServiceError;

/// Why a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The input broke a rule; nothing was changed. Exit code 2.
    Invalid(Vec<String>),
    /// Anything else. Exit code 1.
    Other(anyhow::Error),
}

impl Failure {
    /// Prints the failure on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Invalid(lines) => {
                for line in lines {
                    eprintln!("error: {line}");
                }
                eprintln!("Nothing was changed.");
                ExitCode::from(2)
            }
            Failure::Other(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Other(err)
    }
}

impl From<ServiceError> for Failure {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Validation(errors) => {
                Failure::Invalid(errors.0.iter().map(ToString::to_string).collect())
            }
            ServiceError::Conflict { field, message } => {
                Failure::Invalid(vec![format!("{field}: {message}")])
            }
            other => Failure::Other(other.into()),
        }
    }
}

impl From<pinion_domain::FieldError> for Failure {
    fn from(err: pinion_domain::FieldError) -> Self {
        Failure::Invalid(vec![err.to_string()])
    }
}

/// The result of a command.
pub type CommandResult = Result<(), Failure>;
