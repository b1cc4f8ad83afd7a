//! The command line.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use shangji_core::model::Role;
use shangji_core::records::UserInput;
use shangji_core::Field;
use shangji_store::Db;
use time::OffsetDateTime;

use crate::config::{Config, DbArgs};
use shangji_core::import::{ImportKind, ImportOptions};

mod forecast;
mod handover;
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(
    name = "shangji",
    version,
    about = "商机 — opportunity and sales-funnel management"
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI and the JSON API.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "SHANGJI_LISTEN")]
        listen: Option<String>,
    },
    /// Create (or reuse) a database with demo data and serve it.
    Demo {
        #[arg(long, env = "SHANGJI_LISTEN")]
        listen: Option<String>,
        /// Number of demo opportunities when the database is created.
        #[arg(long, default_value_t = 8_000)]
        opportunities: usize,
    },
    /// Fill an empty database with generated data (for benchmarks: 100000 or 1000000).
    Seed {
        #[arg(long, default_value_t = 8_000)]
        opportunities: usize,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the effective configuration (secrets hidden).
    PrintConfig {
        #[arg(long, env = "SHANGJI_LISTEN")]
        listen: Option<String>,
    },
    /// Measure the HTTP API under load on a generated database and print the numbers.
    Bench {
        /// Opportunities in the generated database (reused if it already has data).
        #[arg(long, default_value_t = 100_000)]
        opportunities: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Seconds per measured operation.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Measure the pipeline and forecast board pages instead, over a database whose
        /// opportunities are all open.
        #[arg(long)]
        board: bool,
        /// Measure the analytics reports instead: the projection's full build, then each
        /// report's time, sequentially, as the admin and as a manager.
        #[arg(long, conflicts_with = "board")]
        reports: bool,
        /// Measure the duplicate check instead, over a generated company of `--accounts`
        /// accounts and twice as many contacts.
        #[arg(long, conflicts_with_all = ["board", "reports"])]
        duplicates: bool,
        /// Accounts in the duplicate benchmark's database.
        #[arg(long, default_value_t = 1_000_000)]
        accounts: usize,
        /// Measure the front door instead: scoring every lead of a company with `--leads`
        /// more leads, then web form and inbound submissions per second.
        #[arg(long, conflicts_with_all = ["board", "reports", "duplicates"])]
        intake: bool,
        /// Extra leads in the intake benchmark's database.
        #[arg(long, default_value_t = 1_000_000)]
        leads: usize,
        /// Time a backup (the archive, written and verified) of the `--opportunities`
        /// database and its restore into a new SQLite database (or `--restore-url`).
        #[arg(long, conflicts_with_all = ["board", "reports", "duplicates", "intake"])]
        backup: bool,
        /// An empty database to restore into for `--backup` (default: a new SQLite file).
        #[arg(long, requires = "backup")]
        restore_url: Option<String>,
        /// Time a handover instead: a rep's book of `--records` records (accounts,
        /// contacts, open deals, leads, open tasks) handed to a colleague, in a new database.
        #[arg(long, conflicts_with_all = ["board", "reports", "duplicates", "intake", "backup"])]
        handover: bool,
        /// Records in the leaver's book for `--handover`.
        #[arg(long, default_value_t = 10_000)]
        records: usize,
        /// Time an import instead: an accounts file of `--rows` rows with their contacts,
        /// into a demo company, duplicate check on (a new database).
        #[arg(long, conflicts_with_all = ["board", "reports", "duplicates", "intake", "backup", "handover"])]
        import: bool,
        /// Rows of the `--import` file.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Hand a leaving user's book over to one or several others (prints the counts).
    Handover(handover::HandoverArgs),
    /// Forecast snapshots and the backtest.
    #[command(subcommand)]
    Forecast(forecast::ForecastCommand),
    /// Import data from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// The analytics projection.
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
    /// Back up the database while it is in use: an archive of every table into the backup
    /// folder (or --out), verified by restoring it into a scratch database.
    Backup {
        /// Write the archive here instead of the backup folder (not recorded, not rotated).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Restore an archive (from `backup` or `export`) into an empty database: SQLite or
    /// PostgreSQL, whichever --database-url names.
    Restore {
        /// The archive.
        file: std::path::PathBuf,
    },
    /// Export the whole database as a portable archive (JSON lines per table and a manifest
    /// with counts and checksums, in one zip file).
    Export {
        /// Where to write the archive.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Rebuild the analytics projection of every opportunity from its stage history (imports
    /// bring it up to date themselves; this is for operators).
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import accounts (with a contact per row) from .xlsx, .xls or .csv (UTF-8 or GBK).
    Accounts(RecordsImport),
    /// Import contacts (an account column names their account by name or credit code).
    Contacts(RecordsImport),
    /// Import leads.
    Leads(RecordsImport),
    /// Import opportunities from another CRM or a spreadsheet with their past (external id,
    /// created and closed times, loss reason) and, with `--history`, every stage they went
    /// through — taken as fact: gates and approvals are not replayed.
    Opportunities(RecordsImport),
    /// Import follow-ups (跟进记录): type, time (China time), summary, outcome, next step,
    /// author, and the account, contact, opportunity or lead each is about, found by name
    /// (an opportunity also by external id). Every row creates a follow-up.
    Activities(RecordsImport),
    /// Import tasks: title, due date, assignee, done, and the account or opportunity each is
    /// about. Every row creates a task.
    Tasks(RecordsImport),
    /// Import stage history from a CSV file: opportunity,stage,entered_at[,amount]. Any
    /// problem refuses the whole file (each printed with its row and column).
    History {
        /// The CSV file (UTF-8).
        file: std::path::PathBuf,
        /// Import the valid rows and report the rejected ones.
        #[arg(long)]
        valid_only: bool,
        /// The admin recorded as having made the changes.
        #[arg(long = "as", default_value = "admin")]
        login: String,
    },
}

/// A file of records to import: the columns are recognised by their headers (Chinese or
/// English) unless `--mapping` says otherwise.
#[derive(Debug, clap::Args)]
pub struct RecordsImport {
    /// The file (.xlsx, .xls or .csv).
    file: std::path::PathBuf,
    /// A JSON file with the mapping (`{"columns": ["name", null, "contact.mobile", …],
    /// "values": {…}}`), e.g. one saved from an earlier import's preview.
    #[arg(long)]
    mapping: Option<std::path::PathBuf>,
    /// What a row matching a stored record does: create, update, merge or skip.
    #[arg(long, default_value = "skip")]
    on_duplicate: String,
    /// Import the valid rows and report the others (otherwise any problem refuses the file).
    #[arg(long)]
    valid_only: bool,
    /// Only say what the import would do.
    #[arg(long)]
    dry_run: bool,
    /// Opportunities only: their stage history (.xlsx, .xls or .csv), one row per stage
    /// entered — external id, stage, time entered, optionally the amount then.
    #[arg(long)]
    history: Option<std::path::PathBuf>,
    /// The user recorded as having imported (an admin, director or manager).
    #[arg(long = "as", default_value = "admin")]
    login: String,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Add a team, optionally under a parent team.
    Add {
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// List teams.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (asks for the password unless --password-stdin).
    Add {
        login: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        team: Option<String>,
        /// Display name [default: the login]
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password (asks unless --password-stdin).
    Passwd {
        login: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user; prints only the token.
    Create {
        login: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|_| format!("unknown role `{s}`: use admin, director, manager or rep"))
}

pub async fn open(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            config.redacted().database_url
        )
    })?;
    db.migrate().await.context("cannot migrate the database")?;
    Ok(db)
}

fn read_password(stdin: bool) -> anyhow::Result<String> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password: use --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        bail!("the passwords differ");
    }
    Ok(first)
}

async fn team_id(db: &Db, name: Option<&str>) -> anyhow::Result<Option<i64>> {
    let Some(name) = name else { return Ok(None) };
    let teams = db.teams().await?;
    match teams.iter().find(|t| t.name == name) {
        Some(t) => Ok(Some(t.id)),
        None => bail!("no team named `{name}` (see `shangji team list`)"),
    }
}

pub async fn serve(config: &Config, db: Db) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "cannot listen on {}: the port is already in use",
                    config.listen
                )
            } else {
                anyhow::anyhow!("cannot listen on {}: {e}", config.listen)
            }
        })?;
    let addr = listener.local_addr()?;
    println!("shangji is serving http://{addr}/");
    let proxies = crate::client::TrustedProxies::parse(&config.trusted_proxies)
        .map_err(anyhow::Error::msg)?;
    let state = AppState::new(db.clone(), config.secure_cookies)
        .with_backups(config.backups.settings())
        .with_proxies(proxies)
        .with_metrics_token(config.metrics_token.clone());
    // The shipped rule templates, once per database (a no-op once seeded).
    crate::ops::automation::seed_templates(&db, state.now()).await?;
    let every = std::env::var("SHANGJI_RULE_TICK_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60);
    let jobs = crate::jobs::Jobs::start(
        &db,
        config,
        state.clock.clone(),
        std::time::Duration::from_secs(every),
    );
    let app = crate::app(state.with_jobs(jobs.status()));
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    // Requests are answered; the jobs finish the turn they are in; the database is closed
    // (SQLite's write-ahead log checkpointed into the file).
    jobs.shutdown().await;
    db.close().await;
    tracing::info!("stopped");
    Ok(served?)
}

/// Ctrl-C, or SIGTERM (what a service manager sends to stop the process).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen }
        | Command::Demo { listen, .. }
        | Command::PrintConfig { listen } => listen.as_deref(),
        _ => None,
    };
    let config = Config::load(&cli.db, listen)?;
    let now = OffsetDateTime::now_utc();
    match cli.command {
        Command::PrintConfig { .. } => {
            println!("{}", toml::to_string(&config.redacted())?);
        }
        Command::Serve { .. } => {
            let db = open(&config).await?;
            if db.pipelines().await?.is_empty() {
                crate::demo::install_defaults(&db, now).await?;
            }
            serve(&config, db).await?;
        }
        Command::Demo { opportunities, .. } => {
            let db = open(&config).await?;
            if db.count("opportunities").await? == 0 && db.count("users").await? == 0 {
                println!("generating demo data ({opportunities} opportunities)…");
                crate::demo::load(&db, opportunities, now).await?;
            }
            println!("demo sign-ins (login / password):");
            for (login, password, what) in crate::demo::SIGN_INS {
                println!("  {login:<12} {password:<12} {what}");
            }
            serve(&config, db).await?;
        }
        Command::Seed { opportunities } => {
            let db = open(&config).await?;
            if db.count("users").await? > 0 {
                bail!("the database already has data; seed only fills an empty one");
            }
            let started = std::time::Instant::now();
            crate::demo::load(&db, opportunities, now).await?;
            println!(
                "seeded {opportunities} opportunities in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Migrate => {
            open(&config).await?;
            println!("database is up to date");
        }
        Command::Team(cmd) => team(&config, cmd, now).await?,
        Command::User(cmd) => user(&config, cmd, now).await?,
        Command::Token(cmd) => token(&config, cmd, now).await?,
        Command::Bench {
            opportunities,
            clients,
            seconds,
            board,
            reports,
            duplicates,
            accounts,
            intake,
            leads,
            backup,
            restore_url,
            handover,
            records,
            import,
            rows,
        } => {
            let url = cli.db.database_url.as_deref();
            if import {
                crate::bench::run_import(&config, url, rows).await?;
            } else if handover {
                crate::bench::run_handover(&config, url, records).await?;
            } else if backup {
                crate::bench::run_backup(&config, url, opportunities, restore_url.as_deref())
                    .await?;
            } else if intake {
                crate::bench::run_intake(&config, url, leads, clients, seconds).await?;
            } else if duplicates {
                crate::bench::run_duplicates(&config, url, accounts, seconds).await?;
            } else {
                bench(
                    &config,
                    url,
                    opportunities,
                    clients,
                    seconds,
                    board,
                    reports,
                )
                .await?
            }
        }
        Command::Forecast(cmd) => forecast::run(&config, cmd, now).await?,
        Command::Import(cmd) => import(&config, cmd, now).await?,
        Command::Analytics(AnalyticsCommand::Rebuild) => {
            let db = open(&config).await?;
            let t = std::time::Instant::now();
            let n = crate::ops::analytics::rebuild(&db)
                .await
                .map_err(cli_error)?;
            println!(
                "rebuilt the analytics of {n} opportunities in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        Command::Handover(args) => handover::run(&config, args, now).await?,
        Command::Backup { out } => backup(&config, out, now).await?,
        Command::Restore { file } => restore(&config, &file).await?,
        Command::Export { out } => {
            let db = open(&config).await?;
            let started = std::time::Instant::now();
            let m = crate::ops::backups::export(&db, &out, None, now)
                .await
                .map_err(cli_error)?;
            println!(
                "exported {} tables, {} rows (schema {}) to {} in {:.1} s",
                m.tables.len(),
                m.rows(),
                m.schema_version,
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// `team add` and `team list`.
async fn team(config: &Config, cmd: TeamCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    let db = open(config).await?;
    match cmd {
        TeamCommand::Add { name, parent } => {
            let parent = team_id(&db, parent.as_deref()).await?;
            let teams = db.teams().await?;
            let mut team = shangji_core::model::Team {
                id: 0,
                name: String::new(),
                parent_id: None,
                archived: false,
                regions: vec![],
            };
            let input = shangji_core::records::TeamInput {
                name: Field::Value(name),
                parent_id: parent.map_or(Field::Absent, Field::Value),
                archived: Field::Absent,
                regions: Field::Absent,
            };
            shangji_core::records::apply_team(&mut team, input, true, &teams)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = db
                .insert_team(&team, now)
                .await
                .map_err(|e| anyhow::anyhow!("cannot add team: {e}"))?;
            println!("team {id} `{}` added", team.name);
        }
        TeamCommand::List => {
            for t in db.teams().await? {
                println!(
                    "{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.parent_id.map(|p| p.to_string()).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// `user add`, `user list` and `user passwd`.
async fn user(config: &Config, cmd: UserCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    let db = open(config).await?;
    match cmd {
        UserCommand::Add {
            login,
            role,
            team,
            name,
            email,
            password_stdin,
        } => {
            let team_id = team_id(&db, team.as_deref()).await?;
            let password = read_password(password_stdin)?;
            let input = UserInput {
                login: Field::Value(login),
                display_name: name.map_or(Field::Absent, Field::Value),
                email: email.map_or(Field::Absent, Field::Value),
                role: Field::Value(role),
                team_id: team_id.map_or(Field::Absent, Field::Value),
                password: Field::Value(password),
                ..Default::default()
            };
            let user = crate::ops::create_user(&db, None, input, now)
                .await
                .map_err(cli_error)?;
            println!("user {} `{}` added ({})", user.id, user.login, user.role);
        }
        UserCommand::List => {
            let teams = db.teams().await?;
            for u in db.users().await? {
                let team = u
                    .team_id
                    .and_then(|t| teams.iter().find(|x| x.id == t))
                    .map(|t| t.name.as_str())
                    .unwrap_or("-");
                let status = if u.active { "active" } else { "inactive" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.id, u.login, u.display_name, u.role, team, status
                );
            }
        }
        UserCommand::Passwd {
            login,
            password_stdin,
        } => {
            let (user, _) = db
                .user_by_login(&login)
                .await?
                .with_context(|| format!("no user `{login}`"))?;
            let password = read_password(password_stdin)?;
            crate::ops::set_password(&db, None, user.id, &password, OffsetDateTime::now_utc())
                .await
                .map_err(cli_error)?;
            println!("password of `{}` changed", user.login);
        }
    }
    Ok(())
}

/// `token create`: prints only the token.
async fn token(config: &Config, cmd: TokenCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    let db = open(config).await?;
    match cmd {
        TokenCommand::Create { login, name } => {
            let (user, _) = db
                .user_by_login(&login)
                .await?
                .with_context(|| format!("no user `{login}`"))?;
            let (token, _) = crate::ops::create_token(&db, None, user.id, &name, now)
                .await
                .map_err(cli_error)?;
            println!("{token}");
        }
    }
    Ok(())
}

/// `import history`: a stage-history CSV file, refused whole on any problem unless only the
/// valid rows are wanted.
async fn import(config: &Config, cmd: ImportCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    let db = open(config).await?;
    match cmd {
        ImportCommand::Accounts(args) => {
            import_records(&db, ImportKind::Accounts, args, now).await?
        }
        ImportCommand::Contacts(args) => {
            import_records(&db, ImportKind::Contacts, args, now).await?
        }
        ImportCommand::Leads(args) => import_records(&db, ImportKind::Leads, args, now).await?,
        ImportCommand::Opportunities(args) => {
            import_records(&db, ImportKind::Opportunities, args, now).await?
        }
        ImportCommand::Activities(args) => {
            import_records(&db, ImportKind::Activities, args, now).await?
        }
        ImportCommand::Tasks(args) => import_records(&db, ImportKind::Tasks, args, now).await?,
        ImportCommand::History {
            file,
            valid_only,
            login,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (user, _) = db
                .user_by_login(&login)
                .await?
                .with_context(|| format!("no user `{login}` (give an admin with --as)"))?;
            let ctx = crate::ops::Ctx::for_cli(&db, &user, now)
                .await
                .map_err(cli_error)?;
            let out = crate::ops::history_import::import_history(&db, &ctx, &text, valid_only)
                .await
                .map_err(cli_error)?;
            for p in &out.problems {
                let at = if p.column.is_empty() {
                    format!("row {}", p.row)
                } else {
                    format!("row {}, column {}", p.row, p.column)
                };
                eprintln!("{}: {at}: {} ({})", file.display(), p.message, p.code);
            }
            if out.refused() {
                bail!(
                    "{} problem(s) in {} rows: nothing imported (fix them, or import only the valid rows with --valid-only)",
                    out.problems.len(),
                    out.rows
                );
            }
            println!(
                "imported {} of {} rows: {} events on {} opportunities{}",
                out.imported_rows,
                out.rows,
                out.events,
                out.opportunities,
                if out.problems.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} rejected row(s) listed above",
                        out.rows - out.imported_rows
                    )
                }
            );
        }
    }
    Ok(())
}

/// `import accounts|contacts|leads|opportunities|activities|tasks`: upload, preview (problems
/// printed by row and column), then run in place with progress lines.
async fn import_records(
    db: &Db,
    kind: ImportKind,
    args: RecordsImport,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    use crate::ops::import;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let (user, _) = db
        .user_by_login(&args.login)
        .await?
        .with_context(|| format!("no user `{}` (give an importer with --as)", args.login))?;
    let ctx = crate::ops::Ctx::for_cli(db, &user, now)
        .await
        .map_err(cli_error)?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let batch = import::upload(db, &ctx, kind, &name, &bytes)
        .await
        .map_err(cli_error)?;
    if let Some(path) = &args.history {
        let history =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        import::add_history(db, &ctx, batch.id, &name, &history)
            .await
            .map_err(cli_error)?;
    }
    let mapping = match &args.mapping {
        Some(path) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            )
            .with_context(|| format!("{} is not a mapping", path.display()))?,
        ),
        None => None,
    };
    let options = ImportOptions {
        on_duplicate: args
            .on_duplicate
            .parse()
            .map_err(|_| anyhow::anyhow!("--on-duplicate is create, update, merge or skip"))?,
        valid_only: args.valid_only,
        ..Default::default()
    };
    let preview = import::preview(db, &ctx, batch.id, mapping, Some(options))
        .await
        .map_err(cli_error)?;
    let columns: Vec<String> = preview
        .headers
        .iter()
        .zip(&preview.batch.mapping.columns)
        .map(|(h, k)| format!("{h} → {}", k.as_deref().unwrap_or("(left out)")))
        .collect();
    println!("columns: {}", columns.join(", "));
    for p in preview
        .mapping_problems
        .iter()
        .chain(&preview.summary.problems)
    {
        // A problem of the history file says so in its column.
        let (file, column) = match (p.column.strip_prefix("history:"), &args.history) {
            (Some(c), Some(h)) => (h, c),
            _ => (&args.file, p.column.as_str()),
        };
        let at = match (p.row, column) {
            (0, "") => String::new(),
            (0, c) => format!("column {c}: "),
            (r, "") => format!("row {r}: "),
            (r, c) => format!("row {r}, column {c}: "),
        };
        eprintln!("{}: {at}{} ({})", file.display(), p.message, p.code);
    }
    let s = &preview.summary;
    println!(
        "{} rows: {} to create, {} to update, {} to skip, {} with problems; {} match stored records or earlier rows",
        preview.batch.total_rows, s.created, s.updated, s.skipped, s.failed, preview.duplicates
    );
    if args.dry_run {
        return Ok(());
    }
    import::start(db, &ctx, batch.id).await.map_err(cli_error)?;
    let done = import::run(db, &ctx, batch.id, &|done, total| {
        println!("{done}/{total} rows");
    })
    .await
    .map_err(cli_error)?;
    if let Some(e) = &done.error {
        bail!("import {} failed, nothing of it stays: {e}", done.id);
    }
    let s = &done.summary;
    println!(
        "import {}: rows: {} created, {} updated, {} skipped, {} failed (roll it back on the page /imports/{} or with POST /api/v1/imports/ID/rollback)",
        done.id, s.created, s.updated, s.skipped, s.failed, done.id
    );
    Ok(())
}

/// `backup`: into the backup folder (verified, recorded, rotated), or to `--out` (verified).
async fn backup(
    config: &Config,
    out: Option<std::path::PathBuf>,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    use crate::ops::backups;
    let db = open(config).await?;
    match out {
        None => {
            let b = backups::take(
                &db,
                &config.backups.settings(),
                backups::Origin::Command,
                None,
                now,
            )
            .await
            .map_err(cli_error)?;
            let path = config.backups.dir.join(&b.file);
            if b.status != "verified" {
                bail!(
                    "backup {} failed: {}",
                    path.display(),
                    b.detail.unwrap_or_default()
                );
            }
            println!(
                "backed up to {} ({} bytes) in {:.1} s, verified in {:.1} s: {}",
                path.display(),
                b.size_bytes.unwrap_or(0),
                b.duration_ms as f64 / 1000.0,
                b.verify_ms.unwrap_or(0) as f64 / 1000.0,
                b.detail.unwrap_or_default()
            );
        }
        Some(out) => {
            let started = std::time::Instant::now();
            let m = backups::export(&db, &out, None, now)
                .await
                .map_err(cli_error)?;
            let written = started.elapsed();
            let scratch =
                std::env::temp_dir().join(format!("shangji-verify-{}", std::process::id()));
            let verified = backups::verify(&out, &scratch).await;
            let _ = std::fs::remove_dir_all(&scratch);
            verified.with_context(|| format!("the archive {} did not verify", out.display()))?;
            println!(
                "backed up {} tables, {} rows to {} in {:.1} s, verified",
                m.tables.len(),
                m.rows(),
                out.display(),
                written.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// `restore`: an archive into the configured database, which must be empty.
async fn restore(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            config.redacted().database_url
        )
    })?;
    let started = std::time::Instant::now();
    let restored = crate::ops::backups::restore(&db, file)
        .await
        .with_context(|| format!("cannot restore {}", file.display()))?;
    let m = &restored.manifest;
    println!(
        "restored {} tables, {} rows from {} ({} archive of {}, schema {}) into {} in {:.1} s; counts and checksums identical",
        m.tables.len(),
        m.rows(),
        file.display(),
        m.dialect,
        m.app_version,
        m.schema_version,
        db.dialect(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `bench`: the API under load, or the board pages (`--board`), or the reports
/// (`--reports`).
async fn bench(
    config: &Config,
    database_url: Option<&str>,
    opportunities: usize,
    clients: usize,
    seconds: u64,
    board: bool,
    reports: bool,
) -> anyhow::Result<()> {
    if board {
        crate::bench::run_board(config, database_url, opportunities, clients, seconds).await?;
    } else if reports {
        crate::bench::run_reports(config, database_url, opportunities, seconds).await?;
    } else {
        crate::bench::run(config, database_url, opportunities, clients, seconds).await?;
    }
    Ok(())
}

fn cli_error(e: crate::error::AppError) -> anyhow::Error {
    let body = e.body();
    match body.field {
        Some(f) => anyhow::anyhow!("{f}: {}", body.message),
        None => anyhow::anyhow!("{}", body.message),
    }
}
