//! `pinion users`: create and list Pinion users, and set their web sign-in
//! passwords (read from stdin with `--password-stdin`, so they stay out of
//! the shell history and the process list).

use clap::{Args, Subcommand};
use std::io::BufRead;

use pinion_domain::Password;
use pinion_domain::User;
use pinion_service::{Actor, Sessions, Users};

use super::{CommandResult, Utf8Text};
use crate::output;
use crate::settings::StoreArgs;

/// `pinion users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user and print their first API token (shown once).
    Create(CreateArgs),
    /// List users.
    List(ListArgs),
    /// Issue another API token for a user (shown once).
    Token(TokenArgs),
    /// Set a user's password for signing in to the web UI.
    Password(PasswordArgs),
}

/// `pinion users create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new user's name: letters, digits, `.`, `_`, `-`.
    #[arg(long, value_parser = Utf8Text)]
    username: String,
    /// Let the user list every credential (never their secrets).
    #[arg(long)]
    admin: bool,
    /// Read a web sign-in password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion users list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `pinion users password`
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The user.
    #[arg(long, value_parser = Utf8Text)]
    username: String,
    /// Read the password from the first line of stdin instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

/// Reads a password: the first line of stdin, or a hidden prompt (twice).
fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let trimmed = line.trim_end_matches(['\n', '\r']).to_owned();
        return Ok(Password::new(trimmed));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat the password: ")?;
    anyhow::ensure!(first == second, "the two passwords differ");
    Ok(Password::new(first))
}

/// `pinion users token`
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user.
    #[arg(long, value_parser = Utf8Text)]
    username: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl UsersCommand {
    /// Runs the command.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let pinion = store_args.open_local().await?;
        let result = self
            .run_on(pinion.users.clone(), pinion.sessions.clone())
            .await;
        pinion.close().await;
        result
    }

    async fn run_on(self, users: Users, sessions: Sessions) -> CommandResult {
        match self {
            UsersCommand::Create(args) => {
                // Check the password before creating anything, so a rejected
                // one leaves no half-made user behind.
                let password = if args.password_stdin {
                    let password = read_password(true)?;
                    pinion_service::validate_password(&password).map_err(anyhow::Error::new)?;
                    Some(password)
                } else {
                    None
                };
                let (user, token) = users
                    .create(pinion_service::Actor::Operator, &args.username, args.admin)
                    .await?;
                let user = match &password {
                    Some(password) => {
                        sessions
                            .set_password(Actor::Operator, user.username.as_str(), password)
                            .await?;
                        // Read back, so what is printed says it has one.
                        users
                            .by_username(Actor::Operator, user.username.as_str())
                            .await?
                    }
                    None => user,
                };
                if args.json {
                    output::print_json(&serde_json::json!({
                        "user": user,
                        "api_token": token.expose_secret(),
                    }))?;
                } else {
                    println!("Created user {} ({}).", user.username, user.role.as_str());
                    println!("API token (shown once; store it now):");
                    println!("{}", token.expose_secret());
                }
                Ok(())
            }
            UsersCommand::List(args) => {
                let users = users.list(Actor::Operator).await?;
                if args.json {
                    output::print_json(&users)?;
                } else {
                    print_users(&users);
                }
                Ok(())
            }
            UsersCommand::Password(args) => {
                let password = read_password(args.password_stdin)?;
                let user = sessions
                    .set_password(Actor::Operator, &args.username, &password)
                    .await?;
                println!(
                    "Set the password of {}; their other sessions ended.",
                    user.username
                );
                Ok(())
            }
            UsersCommand::Token(args) => {
                let user = users.by_username(Actor::Operator, &args.username).await?;
                let token = users.issue_token(Actor::Operator, &user).await?;
                if args.json {
                    output::print_json(&serde_json::json!({ "api_token": token.expose_secret() }))?;
                } else {
                    println!("New API token for {} (shown once):", user.username);
                    println!("{}", token.expose_secret());
                }
                Ok(())
            }
        }
    }
}

fn print_users(users: &[User]) {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.username.to_string(),
                u.role.as_str().to_owned(),
                u.id.to_string(),
                output::time(Some(u.created_at)),
            ]
        })
        .collect();
    output::print_table(&["USERNAME", "ROLE", "ID", "CREATED"], &rows);
}
