//! Effective configuration: command-line flag, then environment variable (both read by
//! clap), then the config file, then the default.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Settings shared by every command that opens the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data-dir>/shangji.db]
    #[arg(long, env = "SHANGJI_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where the embedded database and other files live [default: ./data]
    #[arg(long, env = "SHANGJI_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A TOML file with `listen`, `database_url`, `data_dir`, `secure_cookies`,
    /// `trusted_proxies` (docs/configuration.md)
    #[arg(long, env = "SHANGJI_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    secure_cookies: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    metrics_token: Option<String>,
    public_url: Option<String>,
    digest_time: Option<String>,
    smtp: Option<SmtpConfig>,
    backups: Option<BackupFile>,
}

/// `[backups]` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupFile {
    dir: Option<PathBuf>,
    keep_daily: Option<u32>,
    keep_weekly: Option<u32>,
}

/// Where the server's daily backups go and how many are kept.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackupConfig {
    /// Default: `<data_dir>/backups`.
    pub dir: PathBuf,
    /// The newest backup of each of this many days is kept (default 7)…
    pub keep_daily: u32,
    /// …and of each of this many weeks (default 4).
    pub keep_weekly: u32,
}

impl BackupConfig {
    pub fn settings(&self) -> crate::ops::backups::Settings {
        crate::ops::backups::Settings {
            dir: self.dir.clone(),
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
        }
    }
}

/// The mail server notifications are sent through (`[smtp]` in the config file).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 25 without TLS, 587 with `starttls`, 465 with `tls`.
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. `商机 <crm@example.com>`.
    pub from: String,
    /// `none` (a local relay), `starttls` or `tls`; default `starttls`.
    #[serde(default = "default_tls")]
    pub tls: SmtpTls,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    #[default]
    Starttls,
    Tls,
}

fn default_tls() -> SmtpTls {
    SmtpTls::Starttls
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub secure_cookies: bool,
    /// The reverse proxies (addresses or ranges such as `10.0.0.0/8`) whose
    /// `X-Forwarded-For` / `X-Real-IP` / `X-Forwarded-Proto` headers are believed for the
    /// client's address (sign-in limiter, audit log) and scheme; none by default.
    pub trusted_proxies: Vec<String>,
    /// The bearer token Prometheus shows to read `GET /metrics` (also
    /// `SHANGJI_METRICS_TOKEN`); without one the metrics are not served.
    pub metrics_token: Option<String>,
    /// The address people open shangji at (`https://crm.example.com`), for the links in
    /// notifications sent out; without it they carry no link.
    pub public_url: Option<String>,
    /// When the daily digest is sent, `HH:MM` China Standard Time (default `08:00`).
    pub digest_time: String,
    pub smtp: Option<SmtpConfig>,
    pub backups: BackupConfig,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    pub fn load(args: &DbArgs, listen: Option<&str>) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("config file {} is not valid", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| sqlite_url(&data_dir.join("shangji.db")));
        Ok(Config {
            listen: listen
                .map(str::to_string)
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.into()),
            database_url,
            data_dir: data_dir.clone(),
            secure_cookies: file.secure_cookies.unwrap_or(false),
            trusted_proxies: {
                let list = file.trusted_proxies.unwrap_or_default();
                crate::client::TrustedProxies::parse(&list)
                    .map_err(anyhow::Error::msg)
                    .context("trusted_proxies")?;
                list
            },
            metrics_token: std::env::var("SHANGJI_METRICS_TOKEN")
                .ok()
                .or(file.metrics_token)
                .filter(|t| !t.trim().is_empty()),
            public_url: file.public_url.map(|u| u.trim_end_matches('/').to_string()),
            digest_time: match file.digest_time {
                Some(t) => {
                    parse_digest_time(&t).with_context(|| {
                        format!("digest_time `{t}` is not a time of day such as 08:00")
                    })?;
                    t
                }
                None => "08:00".into(),
            },
            smtp: file.smtp,
            backups: {
                let b = file.backups.unwrap_or_default();
                BackupConfig {
                    dir: b.dir.unwrap_or_else(|| data_dir.join("backups")),
                    keep_daily: b
                        .keep_daily
                        .unwrap_or(shangji_core::backups::DEFAULT_KEEP_DAILY),
                    keep_weekly: b
                        .keep_weekly
                        .unwrap_or(shangji_core::backups::DEFAULT_KEEP_WEEKLY),
                }
            },
        })
    }

    /// The configuration as shown to an operator: passwords in URLs hidden.
    pub fn redacted(&self) -> Config {
        Config {
            database_url: redact_url(&self.database_url),
            metrics_token: self.metrics_token.as_ref().map(|_| "***".into()),
            smtp: self.smtp.clone().map(|s| SmtpConfig {
                password: s.password.map(|_| "***".into()),
                ..s
            }),
            ..self.clone()
        }
    }
}

/// `HH:MM` → (hour, minute).
pub fn parse_digest_time(t: &str) -> Option<(u8, u8)> {
    let (h, m) = t.trim().split_once(':')?;
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>, dir: Option<&str>, config: Option<PathBuf>) -> DbArgs {
        DbArgs {
            database_url: url.map(str::to_string),
            data_dir: dir.map(PathBuf::from),
            config,
        }
    }

    #[test]
    fn layers_flag_over_file_over_default() {
        let c = Config::load(&args(None, None, None), None).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.database_url, "sqlite://./data/shangji.db");

        let dir = std::env::temp_dir().join(format!("shangji-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("shangji.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/sj\"\n").unwrap();
        let c = Config::load(&args(None, None, Some(file.clone())), None).unwrap();
        assert_eq!(
            (c.listen.as_str(), c.database_url.as_str()),
            ("0.0.0.0:9000", "sqlite:///srv/sj/shangji.db")
        );
        let c = Config::load(
            &args(Some("postgres://a:b@h/d"), None, Some(file.clone())),
            Some("127.0.0.1:1"),
        )
        .unwrap();
        assert_eq!(
            (c.listen.as_str(), c.database_url.as_str()),
            ("127.0.0.1:1", "postgres://a:b@h/d")
        );
        assert_eq!(c.redacted().database_url, "postgres://a:***@h/d");
        assert_eq!(
            (
                c.backups.dir.as_path(),
                c.backups.keep_daily,
                c.backups.keep_weekly
            ),
            (Path::new("/srv/sj/backups"), 7, 4)
        );
        std::fs::write(
            &file,
            "[backups]\ndir = \"/mnt/backups\"\nkeep_daily = 3\nkeep_weekly = 2\n",
        )
        .unwrap();
        let c = Config::load(&args(None, None, Some(file.clone())), None).unwrap();
        assert_eq!(
            (
                c.backups.dir.as_path(),
                c.backups.keep_daily,
                c.backups.keep_weekly
            ),
            (Path::new("/mnt/backups"), 3, 2)
        );

        std::fs::write(
            &file,
            "public_url = \"https://crm.example.com/\"\ndigest_time = \"07:30\"\n[smtp]\nhost = \"smtp.example.com\"\nusername = \"crm\"\npassword = \"pw\"\nfrom = \"crm@example.com\"\n",
        )
        .unwrap();
        let c = Config::load(&args(None, None, Some(file.clone())), None).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://crm.example.com"));
        assert_eq!(parse_digest_time(&c.digest_time), Some((7, 30)));
        let smtp = c.smtp.clone().unwrap();
        assert_eq!((smtp.tls, smtp.port), (SmtpTls::Starttls, None));
        assert_eq!(c.redacted().smtp.unwrap().password.as_deref(), Some("***"));
        assert!(c.trusted_proxies.is_empty());
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let c = Config::load(&args(None, None, Some(file.clone())), None).unwrap();
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "::1"]);
        std::fs::write(&file, "trusted_proxies = [\"proxy.local\"]\n").unwrap();
        let err = Config::load(&args(None, None, Some(file.clone())), None).unwrap_err();
        assert!(format!("{err:#}").contains("proxy.local"), "{err:#}");
        std::fs::write(&file, "digest_time = \"25:00\"\n").unwrap();
        assert!(Config::load(&args(None, None, Some(file.clone())), None).is_err());

        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = Config::load(&args(None, None, Some(file)), None).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }
}
