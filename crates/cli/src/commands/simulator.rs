//! `pinion simulator`: runs a strict local stand-in for Pinterest's OAuth and
//! v5 API in the foreground until Ctrl-C. The flags become the simulator
//! library's `SimConfig`; `pinion_simulator::standalone` serves it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use pinion_simulator::DataShape;
use pinion_simulator::config::{Fixtures, SimConfig};
use pinion_simulator::standalone::{StandaloneConfig, TlsFiles};

/// Preset sizes of the demo user's data (ignored when `--fixtures` is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DataSize {
    /// 3 boards of 10 pins.
    Tiny,
    /// 5 boards, 2 sections each, 30 pins per board.
    Small,
    /// 20 boards, 5 sections each, 1,050 pins per board.
    Medium,
    /// 50 boards, 10 sections each, 21,000 pins per board.
    Large,
    /// One board of 1,000,000 pins.
    Million,
}

impl DataSize {
    /// The data shape of the preset.
    pub fn shape(self) -> DataShape {
        let base = DataShape::default();
        match self {
            Self::Tiny => DataShape {
                boards: 3,
                sections_per_board: 1,
                pins_per_board: 8,
                pins_per_section: 2,
                ad_accounts: 1,
                ..base
            },
            Self::Small => base,
            Self::Medium => DataShape {
                boards: 20,
                sections_per_board: 5,
                pins_per_board: 1_000,
                pins_per_section: 10,
                ad_accounts: 3,
                ..base
            },
            Self::Large => DataShape {
                boards: 50,
                sections_per_board: 10,
                pins_per_board: 20_000,
                pins_per_section: 100,
                ad_accounts: 5,
                ..base
            },
            Self::Million => DataShape::single_board(1_000_000),
        }
    }
}

/// Arguments of `pinion simulator`.
#[derive(Clone, Debug, Args)]
pub struct SimulatorArgs {
    /// Address to listen on; must be a loopback address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Size of the demo user's data.
    #[arg(long, value_enum, default_value_t = DataSize::Small)]
    pub data_size: DataSize,
    /// JSON fixture file with apps and users (replaces the demo app and user).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Approve authorization requests without the sign-in and consent pages.
    #[arg(long)]
    pub auto_approve: bool,
    /// PEM certificate chain; serves HTTPS together with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Access-token lifetime in seconds (Pinterest: 2592000, 30 days).
    #[arg(long, default_value_t = 2_592_000)]
    pub access_token_ttl: u64,
    /// Refresh-token lifetime in seconds (Pinterest: 5184000, 60 days).
    #[arg(long, default_value_t = 5_184_000)]
    pub refresh_token_ttl: u64,
    /// Authorization-code lifetime in seconds.
    #[arg(long, default_value_t = 600)]
    pub code_ttl: u64,
    /// Multiplies every rate limit (1.0 is Pinterest's published numbers).
    #[arg(long, default_value_t = 1.0)]
    pub rate_limit_scale: f64,
    /// Length of a rate-limit window in seconds (Pinterest counts per minute).
    #[arg(long, default_value_t = 60)]
    pub rate_limit_window: u64,
    /// Turns rate limiting off.
    #[arg(long)]
    pub no_rate_limits: bool,
}

impl SimulatorArgs {
    /// The configuration these arguments describe.
    pub fn to_config(&self) -> anyhow::Result<SimConfig> {
        if !self.listen.ip().is_loopback() {
            bail!(
                "the simulator only listens on loopback addresses, not {}",
                self.listen
            );
        }
        if self.rate_limit_scale.is_nan() || self.rate_limit_scale <= 0.0 {
            bail!("--rate-limit-scale must be positive");
        }
        if self.access_token_ttl == 0 || self.refresh_token_ttl == 0 || self.code_ttl == 0 {
            bail!("token lifetimes must be at least one second");
        }
        let fixtures = match &self.fixtures {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading fixtures from {}", path.display()))?;
                Fixtures::from_json(&text)
                    .with_context(|| format!("parsing fixtures in {}", path.display()))?
            }
            None => {
                let mut f = Fixtures::demo(self.seed);
                for user in &mut f.users {
                    user.data = self.data_size.shape();
                }
                f
            }
        };
        Ok(SimConfig {
            seed: self.seed,
            access_token_ttl: Duration::from_secs(self.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(self.refresh_token_ttl),
            code_ttl: Duration::from_secs(self.code_ttl),
            rate_limits_enabled: !self.no_rate_limits,
            rate_limit_scale: self.rate_limit_scale,
            rate_limit_window: Duration::from_secs(self.rate_limit_window.max(1)),
            auto_approve: self.auto_approve,
            fixtures,
            ..SimConfig::default()
        })
    }

    /// Runs a simulator until Ctrl-C.
    pub async fn run(self) -> anyhow::Result<()> {
        let simulator = self.to_config()?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        pinion_simulator::standalone::run(StandaloneConfig {
            listen: self.listen,
            tls,
            simulator,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use pinion_simulator::config::DEMO_CLIENT_ID;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimulatorArgs,
    }

    fn parse(args: &[&str]) -> SimulatorArgs {
        let mut argv = vec!["pinion-simulator"];
        argv.extend_from_slice(args);
        Wrapper::parse_from(argv).args
    }

    #[test]
    fn defaults_use_pinterest_lifetimes_and_limits() {
        let config = parse(&[]).to_config().unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(5_184_000));
        assert_eq!(config.code_ttl, Duration::from_secs(600));
        assert!(config.rate_limits_enabled);
        assert_eq!(config.rate_limit_scale, 1.0);
        assert_eq!(
            config.fixtures.apps[0].client_id.as_deref(),
            Some(DEMO_CLIENT_ID)
        );
    }

    #[test]
    fn non_loopback_addresses_are_refused() {
        assert!(parse(&["--listen", "0.0.0.0:9090"]).to_config().is_err());
        assert!(parse(&["--listen", "[::1]:0"]).to_config().is_ok());
    }

    #[test]
    fn tls_flags_must_come_together() {
        let err = Wrapper::try_parse_from(["x", "--tls-cert", "a.pem"]);
        assert!(err.is_err());
    }

    #[test]
    fn the_data_size_sets_the_demo_users_shape() {
        let config = parse(&["--data-size", "million"]).to_config().unwrap();
        assert_eq!(config.fixtures.users[0].data.pins_per_board, 1_000_000);
    }
}
