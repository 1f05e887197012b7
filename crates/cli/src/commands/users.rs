//! `pinion users`: create and list Pinion users.

use clap::{Args, Subcommand};
use pinion_service::Users;
use pinion_store::User;

use super::CommandResult;
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
}

/// `pinion users create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new user's name: letters, digits, `.`, `_`, `-`.
    #[arg(long)]
    username: String,
    /// Let the user list every credential (never their secrets).
    #[arg(long)]
    admin: bool,
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

/// `pinion users token`
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user.
    #[arg(long)]
    username: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl UsersCommand {
    /// Runs the command.
    pub async fn run(self, store_args: &StoreArgs) -> CommandResult {
        let store = store_args.open().await?;
        let result = self.run_on(Users::new(store.clone())).await;
        store.close().await;
        result
    }

    async fn run_on(self, users: Users) -> CommandResult {
        match self {
            UsersCommand::Create(args) => {
                let (user, token) = users.create(&args.username, args.admin).await?;
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
                let users = users.list().await?;
                if args.json {
                    output::print_json(&users)?;
                } else {
                    print_users(&users);
                }
                Ok(())
            }
            UsersCommand::Token(args) => {
                let user = users.by_username(&args.username).await?;
                let token = users.issue_token(&user).await?;
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
