//! One module per command group; each turns flags into service calls and
//! prints the result as a table or, with `--json`, as JSON.

pub mod credentials;
pub mod demo;
pub mod keys;
pub mod serve;
pub mod simulator;
pub mod sources;
pub mod sync;
pub mod users;
pub mod webhooks;

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

/// Parses a text argument, refusing one that is not valid UTF-8 with a message
/// naming the field (clap's own check names none). Exit code 2, like every
/// invalid input; nothing has been opened yet, so nothing is changed.
#[derive(Debug, Clone, Copy)]
pub struct Utf8Text;

impl clap::builder::TypedValueParser for Utf8Text {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        value.to_str().map(str::to_owned).ok_or_else(|| {
            let field = arg.map_or("argument", |arg| arg.get_id().as_str());
            clap::Error::raw(
                clap::error::ErrorKind::InvalidUtf8,
                format!("{field}: must be valid UTF-8 text\nNothing was changed.\n"),
            )
            .with_cmd(cmd)
        })
    }
}
