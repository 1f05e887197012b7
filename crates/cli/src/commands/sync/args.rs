//! The flags of `pinion sync` and `pinion publish` (besides `--credential`
//! and the Pinterest and store flags), turned into the sync library's plain
//! requests.

use std::path::PathBuf;
use std::time::Duration;

use pinion_sync::command::{
    DEFAULT_ANALYTICS_DAYS, DEFAULT_CONCURRENCY, DEFAULT_LOOKBACK_DAYS, PublishRequest, SyncRequest,
};
use pinion_sync::publish;

/// Arguments of `pinion sync` (besides `--credential`, which the command
/// resolves into a `CommandEnv`).
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// How fast to call Pinterest for this run: `standard` (Pinterest's
    /// standard access), `trial`, a number of requests a minute in every
    /// rate-limit category such as `600/min`, or `unlimited` (no client-side
    /// limit, for a server without one). Default: the credential's rate tier
    /// (`pinion credentials update --rate-limit`). Pinterest's rate-limit
    /// headers and 429 answers can slow a run further, never speed it up.
    #[arg(long, value_name = "TIER")]
    pub rate_limit: Option<pinion_pinterest::RateTier>,
    /// Streams to read, comma-separated: user_account, boards,
    /// board_sections, board_pins, board_section_pins, pins, ad_accounts,
    /// ad_account_analytics. Default: every stream the credential's scopes
    /// allow (the others are skipped with a message); a stream named here
    /// without its scopes fails the run before any request.
    #[arg(long, value_delimiter = ',')]
    pub streams: Option<Vec<String>>,
    /// Where records go: jsonl:DIR, sqlite:PATH, postgres://URL or stdout.
    #[arg(long)]
    pub dest: String,
    /// Continue the last unfinished run of this credential and destination.
    #[arg(long)]
    pub resume: bool,
    /// Skip boards unchanged since the last successful run; read analytics
    /// from the last date read minus the lookback.
    #[arg(long)]
    pub incremental: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Boards or ad accounts read in parallel (paced by the rate budget).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Days of ad-account analytics on a first run (at most 90).
    #[arg(long, default_value_t = DEFAULT_ANALYTICS_DAYS)]
    pub analytics_days: u32,
    /// Days of analytics read again on later runs, because Pinterest revises
    /// recent days.
    #[arg(long, default_value_t = DEFAULT_LOOKBACK_DAYS)]
    pub lookback_days: u32,
    /// Analytics columns, comma-separated (default: spend, impressions,
    /// clicks, engagement, CTR).
    #[arg(long, value_delimiter = ',')]
    pub analytics_columns: Option<Vec<String>>,
    /// Keep run state in a separate file path or postgres://URL instead of
    /// Pinion's store.
    #[arg(long)]
    pub state: Option<String>,
    /// Also read a GET operation of Pinterest's API as the `custom` stream,
    /// named by operationId (`boards/list_pins`) or path
    /// (`/boards/{board_id}/pins`). Without --streams only it is read.
    #[arg(long, value_name = "OPERATION")]
    pub custom: Option<String>,
    /// A path or query parameter of the custom operation, NAME=VALUE
    /// (repeat for several).
    #[arg(long = "param", value_name = "NAME=VALUE", requires = "custom")]
    pub params: Vec<String>,
    /// Read the custom operation once per id of a stream: boards (fills
    /// board_id) or ad_accounts (fills ad_account_id).
    #[arg(long, value_name = "STREAM", requires = "custom")]
    pub for_each: Option<String>,
}

impl SyncArgs {
    /// What the sync library is asked to do.
    pub fn request(&self) -> SyncRequest {
        SyncRequest {
            streams: self.streams.clone(),
            dest: self.dest.clone(),
            resume: self.resume,
            incremental: self.incremental,
            concurrency: self.concurrency,
            analytics_days: self.analytics_days,
            lookback_days: self.lookback_days,
            analytics_columns: self.analytics_columns.clone(),
            state: self.state.clone(),
            custom: self.custom.clone(),
            params: self.params.clone(),
            for_each: self.for_each.clone(),
        }
    }
}

/// Arguments of `pinion publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// How fast to call Pinterest for this run: `standard` (Pinterest's
    /// standard access), `trial`, a number of requests a minute in every
    /// rate-limit category such as `600/min`, or `unlimited` (no client-side
    /// limit, for a server without one). Default: the credential's rate tier
    /// (`pinion credentials update --rate-limit`). Pinterest's rate-limit
    /// headers and 429 answers can slow a run further, never speed it up.
    #[arg(long, value_name = "TIER")]
    pub rate_limit: Option<pinion_pinterest::RateTier>,
    /// JSON Lines input: pins (`board_id`, `board_section_id`, `title`,
    /// `description`, `link`, `alt_text`, `image_url`, `key`) or, with
    /// `--boards`, boards (`name`, `description`, `privacy`, `key`).
    #[arg(long)]
    pub input: PathBuf,
    /// Board for pin rows that have none.
    #[arg(long)]
    pub board: Option<String>,
    /// The input holds boards, not pins.
    #[arg(long)]
    pub boards: bool,
    /// Creates in flight (paced by the org_write budget).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Where rejected rows go (default `<input>.rejects.jsonl`).
    #[arg(long)]
    pub reject_file: Option<PathBuf>,
    /// Keep the ledger in a separate file path or postgres://URL instead of
    /// Pinion's store.
    #[arg(long)]
    pub state: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait after a create whose answer was lost before looking
    /// for the pin and, if it is not there, creating it again (Pinterest's
    /// lists can lag behind its writes).
    #[arg(long, default_value_t = publish::DEFAULT_SETTLE.as_secs())]
    pub settle_seconds: u64,
    /// Send each row to a POST or PATCH operation of Pinterest's API
    /// instead, named by operationId (`pins/create`) or `METHOD /path`
    /// (`PATCH /boards/{board_id}`); each body is checked against the
    /// operation's request schema before anything is sent.
    #[arg(long, value_name = "OPERATION", conflicts_with = "boards")]
    pub custom_write: Option<String>,
    /// For --custom-write: put input field SOURCE into path parameter or
    /// body field TARGET (dotted for nested fields, e.g.
    /// media_source.url=image). Without it, the row is the body.
    #[arg(long = "map", value_name = "TARGET=SOURCE", requires = "custom_write")]
    pub mapping: Vec<String>,
}

impl PublishArgs {
    /// What the sync library is asked to do.
    pub fn request(&self) -> PublishRequest {
        PublishRequest {
            input: self.input.clone(),
            board: self.board.clone(),
            boards: self.boards,
            concurrency: self.concurrency,
            reject_file: self.reject_file.clone(),
            state: self.state.clone(),
            settle: Duration::from_secs(self.settle_seconds),
            custom_write: self.custom_write.clone(),
            mapping: self.mapping.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct SyncCommand {
        #[command(flatten)]
        args: SyncArgs,
    }

    #[derive(Parser)]
    struct PublishCommand {
        #[command(flatten)]
        args: PublishArgs,
    }

    #[test]
    fn sync_flags_become_the_librarys_request_with_its_defaults() {
        let command =
            SyncCommand::parse_from(["sync", "--streams", "boards,pins", "--dest", "stdout"]);
        let request = command.args.request();
        assert_eq!(
            request.streams,
            Some(vec!["boards".to_owned(), "pins".to_owned()])
        );
        let defaults = SyncRequest::new("stdout");
        assert_eq!(
            (
                request.concurrency,
                request.analytics_days,
                request.lookback_days
            ),
            (
                defaults.concurrency,
                defaults.analytics_days,
                defaults.lookback_days
            )
        );
        assert!(request.writes_to_stdout());
    }

    #[test]
    fn sync_params_and_for_each_need_a_custom_operation() {
        assert!(
            SyncCommand::try_parse_from(["sync", "--dest", "stdout", "--param", "a=b"]).is_err()
        );
        assert!(
            SyncCommand::try_parse_from(["sync", "--dest", "stdout", "--for-each", "boards"])
                .is_err()
        );
        let command = SyncCommand::try_parse_from([
            "sync",
            "--dest",
            "stdout",
            "--custom",
            "boards/list_pins",
            "--for-each",
            "boards",
        ])
        .unwrap();
        assert_eq!(command.args.request().for_each.as_deref(), Some("boards"));
    }

    #[test]
    fn publish_flags_become_the_librarys_request_with_its_defaults() {
        let command = PublishCommand::parse_from(["publish", "--input", "pins.jsonl"]);
        let request = command.args.request();
        let defaults = PublishRequest::new("pins.jsonl");
        assert_eq!(request.input, defaults.input);
        assert_eq!(request.settle, defaults.settle);
        assert_eq!(request.concurrency, defaults.concurrency);
    }

    #[test]
    fn publish_map_needs_a_custom_write_and_custom_write_excludes_boards() {
        assert!(
            PublishCommand::try_parse_from(["publish", "--input", "x", "--map", "a=b"]).is_err(),
            "--map needs --custom-write"
        );
        assert!(
            PublishCommand::try_parse_from([
                "publish",
                "--input",
                "x",
                "--boards",
                "--custom-write",
                "pins/create"
            ])
            .is_err()
        );
    }
}
