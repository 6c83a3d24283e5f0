//! `weft up`: start the workspace's services, in the foreground or as a
//! background supervisor.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use weft_launch::control::{self, Client, Request, Response};
use weft_launch::ports::PortAllocator;
use weft_launch::{
    LaunchError, LaunchRequest, LaunchSettings, State, Supervisor, SupervisorOptions,
};

use super::Context;
use super::launch::render_statuses;
use super::logs::format_line;
use super::status::render_chain;
use crate::cli::{Format, UpArgs};
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

pub(crate) fn run(context: &Context, args: UpArgs) -> anyhow::Result<Outcome> {
    if args.supervise {
        // Started by `weft up --detach`, which read the workspace and sent
        // what to run: the workspace is read once, and the supervisor runs
        // what that command checked and reported.
        let settings = received_settings(std::io::stdin().lock())?;
        return supervise(settings, false, &args);
    }
    let (root, names) = context.split_workspace(&args.services)?;
    let root = std::fs::canonicalize(&root).map_err(|_| {
        UsageError::new(format!("workspace `{}` does not exist", root.display()))
            .with_hint("give an existing directory, with -w DIR or as the first argument")
    })?;
    let model = context.discover(&root)?;
    let request = LaunchRequest {
        services: names.clone(),
        no_dependencies: args.no_deps,
    };
    let (settings, notices) = LaunchSettings::from_model(&model, &request).map_err(|error| {
        UsageError::new(error.to_string()).with_hint(
            "weft up runs services that have a `command` (in weft.yaml or a Procfile); `weft explain SERVICE` shows what weft knows of one",
        )
    })?;
    if super::config_errors(&model).next().is_some() {
        return Ok(Outcome::BadInput);
    }
    for notice in &notices {
        console::note(&console::paint_note(&format!(
            "note: {}: {}",
            notice.service, notice.message
        )));
    }
    // The model is not needed once the settings are made; a supervisor
    // holding a thousand services' model for its whole life would keep it
    // resident.
    drop(model);
    if args.detach || args.wait {
        return detach(&settings, &names, &args);
    }
    supervise(settings, true, &args)
}

/// The settings `weft up --detach` writes to its supervisor's standard
/// input, as JSON.
fn received_settings(input: impl std::io::Read) -> anyhow::Result<LaunchSettings> {
    serde_json::from_reader(std::io::BufReader::new(input)).map_err(|error| {
        UsageError::new(format!(
            "cannot read the services to run from standard input: {error}"
        ))
        .with_hint("`--supervise` is for the background supervisor `weft up --detach` starts; run `weft up --detach` instead")
        .into()
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .thread_name("weft-supervisor")
        .enable_all()
        .build()?)
}

fn options(settings: &LaunchSettings) -> anyhow::Result<SupervisorOptions> {
    Ok(SupervisorOptions {
        reaper: std::env::current_exe().ok(),
        allocator: PortAllocator::for_this_machine()?,
        socket: control::socket_path(&settings.state_dir),
    })
}

fn start_error(error: LaunchError) -> anyhow::Error {
    match error {
        LaunchError::AlreadyRunning { pid } => UsageError::new(format!(
            "a supervisor is already running for this workspace (pid {pid})"
        ))
        .with_hint("`weft status` shows it, `weft down` stops it")
        .into(),
        LaunchError::NoFreePort { .. } | LaunchError::PortTaken { .. } => {
            UsageError::new(error.to_string())
                .with_hint("widen `ports.range` in weft.yaml, or free a port")
                .into()
        }
        other => other.into(),
    }
}

/// Runs the supervisor in this process until Ctrl-C, SIGTERM or `weft down`.
fn supervise(settings: LaunchSettings, foreground: bool, args: &UpArgs) -> anyhow::Result<Outcome> {
    let options = options(&settings)?;
    let runtime = runtime()?;
    let mut printer = None;
    let outcome = runtime.block_on(async {
        let supervisor = Supervisor::start(settings, options)
            .await
            .map_err(start_error)?;
        for process in supervisor.reaped() {
            console::note(&format!(
                "killed {process}, left behind by a supervisor that was killed"
            ));
        }
        let listener = control::bind(supervisor.socket())?;
        tokio::spawn(control::serve(supervisor.clone(), listener));
        if foreground {
            printer = Some(print_output(&supervisor));
            let watcher = supervisor.clone();
            let timeout = args.timeout;
            tokio::spawn(async move { report_start(&watcher, timeout).await });
        }
        wait_for_shutdown(&supervisor, foreground).await?;
        supervisor.request_down();
        if foreground {
            console::note(&console::paint_note(
                "stopping every service, dependents first… (Ctrl-C again to kill at once)",
            ));
        }
        let stopping = supervisor.stop_all();
        tokio::pin!(stopping);
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        loop {
            tokio::select! {
                () = &mut stopping => break,
                _ = interrupt.recv() => {
                    console::note("killing every service now");
                    supervisor.kill_all();
                }
            }
        }
        supervisor.finish().await;
        anyhow::Ok(Outcome::Clean)
    });
    // Every line the services and the supervisor sent, written before the
    // process ends (it ended before the last `stopped` at times).
    if let Some(printer) = printer {
        printer.finish();
        if outcome.is_ok() {
            console::note("stopped");
        }
    }
    // Background tasks (follow streams) end with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(200));
    outcome
}

async fn wait_for_shutdown(supervisor: &Supervisor, foreground: bool) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            // A background supervisor outlives the terminal it came from.
            _ = hangup.recv() => if foreground { return Ok(()) },
            () = supervisor.down_requested() => return Ok(()),
        }
    }
}

/// Streams every service's output to the terminal from a thread of its own:
/// a slow terminal makes it skip lines (and say how many), never slows a service.
fn print_output(supervisor: &Supervisor) -> Printer {
    let names: Vec<String> = supervisor
        .settings()
        .services
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut lines = supervisor.follow();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    // The lines are written on a thread of their own, so that a terminal
    // slow to take them never holds up the supervisor; the thread waits on
    // the channels alone, which need no driver of the runtime.
    let runtime = tokio::runtime::Handle::current();
    let thread = std::thread::spawn(move || {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        let print = |line: &weft_launch::output::LogLine| {
            console::out(&format_line(&names[line.service], width, line));
        };
        let lagged = |missed: u64| {
            console::note(&console::paint_note(&format!(
                "[weft] {missed} lines not shown: output came faster than the terminal took it (all of it is in .weft/logs)"
            )));
        };
        runtime.block_on(async move {
            loop {
                tokio::select! {
                    biased;
                    line = lines.recv() => match line {
                        Ok(line) => print(&line),
                        Err(RecvError::Lagged(missed)) => lagged(missed),
                        Err(RecvError::Closed) => return,
                    },
                    _ = &mut stopped => {
                        // What was sent before the stop, then no more.
                        for _ in 0..lines.len() {
                            match lines.try_recv() {
                                Ok(line) => print(&line),
                                Err(TryRecvError::Lagged(missed)) => lagged(missed),
                                Err(_) => break,
                            }
                        }
                        return;
                    }
                }
            }
        });
    });
    Printer { stop, thread }
}

/// The thread writing the services' lines in the foreground.
struct Printer {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Printer {
    /// Writes the lines sent so far (each service's `stopped` among them),
    /// and stops: the process may end once this returns.
    fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Once start-up settles, says so: every service ready and the critical
/// chain, or what blocks.
async fn report_start(supervisor: &Supervisor, timeout: Duration) {
    let all: Vec<usize> = (0..supervisor.settings().services.len()).collect();
    let began = Instant::now();
    let result = supervisor.wait_ready(&all, Some(timeout)).await;
    let statuses = supervisor.statuses();
    if supervisor.is_down_requested() {
        return;
    }
    match result {
        Ok(()) => {
            let ready = statuses
                .iter()
                .filter(|s| matches!(s.state, State::Ready | State::Completed))
                .count();
            console::note(&console::paint_note(&format!(
                "[weft] {ready} of {} services ready in {:.2}s",
                statuses.len(),
                began.elapsed().as_secs_f64()
            )));
            if let Some(chain) = render_chain(&weft_launch::report::critical_chain(
                &statuses,
                supervisor.started_at_ms(),
            )) {
                console::note(&console::paint_note(&format!("[weft] {chain}")));
            }
        }
        Err(not_ready) => {
            for index in not_ready {
                let why = control::why(supervisor, index);
                console::note(&format!("[weft] {}", blocked_text(&why)));
            }
        }
    }
}

fn blocked_text(why: &weft_launch::report::Why) -> String {
    let path = if why.blocked_path.is_empty() {
        format!("{} is {}", why.service, why.state)
    } else {
        why.blocked_path.join(" → ")
    };
    format!("{} {path}", console::paint(Style::Red, "not ready:"))
}

/// Starts a background supervisor and, with --wait, waits for readiness.
fn detach(settings: &LaunchSettings, names: &[String], args: &UpArgs) -> anyhow::Result<Outcome> {
    let state_dir = &settings.state_dir;
    if let Ok(mut client) = Client::connect(state_dir) {
        client.send(&Request::Status)?;
        let pid = match client.receive()? {
            Some(Response::Status { supervisor, .. }) => supervisor.pid,
            _ => 0,
        };
        return Err(start_error(LaunchError::AlreadyRunning { pid }));
    }
    std::fs::create_dir_all(state_dir)?;
    let log = state_dir.join("supervisor.log");
    let log_file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log)?;
    let program = std::env::current_exe()?;
    let mut command = std::process::Command::new(&program);
    command
        .arg("--workspace")
        .arg(&settings.root)
        .arg("up")
        .arg("--supervise")
        .stdin(Stdio::piped())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    // Its own process group: a Ctrl-C at this terminal is not for it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    // What to run, as this command resolved it; the pipe closes after it.
    // A supervisor that died before reading it is reported below, with its
    // log, rather than as a broken pipe here.
    if let Some(stdin) = child.stdin.take() {
        let mut stdin = std::io::BufWriter::new(stdin);
        let _ = serde_json::to_writer(&mut stdin, settings)
            .map_err(std::io::Error::from)
            .and_then(|()| std::io::Write::flush(&mut stdin));
    }
    let pid = child.id();
    // The supervisor is up once its socket answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if Client::ask(state_dir, &Request::Status).is_ok() {
            break;
        }
        if let Some(status) = child.try_wait()? {
            let tail = tail(&log, 20);
            anyhow::bail!(
                "the background supervisor exited ({status}) before it was up; its log ({}):\n{tail}",
                log.display()
            );
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the background supervisor (pid {pid}) did not answer within 30s; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if !args.wait {
        match args.format {
            Format::Json => {
                console::json(&serde_json::json!({"supervisor": pid, "detached": true}))?
            }
            Format::Text => console::note(&format!(
                "started a background supervisor (pid {pid}); `weft status`, `weft logs -f`, `weft down`"
            )),
        }
        return Ok(Outcome::Clean);
    }
    let mut client = Client::connect(state_dir).map_err(super::launch::connection_error)?;
    client.send(&Request::Wait {
        services: names.to_vec(),
        timeout_ms: Some(args.timeout.as_millis() as u64),
    })?;
    let Some(Response::Waited { ready, blocked }) = client.receive()? else {
        anyhow::bail!("the supervisor stopped answering while starting services");
    };
    let status = Client::ask(state_dir, &Request::Status)?;
    let Response::Status {
        services,
        critical_chain,
        ..
    } = status
    else {
        anyhow::bail!("the supervisor answered `status` with something else");
    };
    match args.format {
        Format::Json => console::json(&serde_json::json!({
            "ready": ready,
            "supervisor": pid,
            "services": services,
            "critical_chain": critical_chain,
            "blocked": blocked,
        }))?,
        Format::Text => {
            console::out(&render_statuses(&services));
            if ready {
                if let Some(chain) = render_chain(&critical_chain) {
                    console::out(&format!("\n{chain}\n"));
                }
            } else {
                console::out("\n");
                for why in &blocked {
                    console::out(&format!("{}\n", blocked_text(why)));
                    for line in why.last_output.iter().rev().take(5).rev() {
                        console::out(&format!("    {} {line}\n", console::paint(Style::Dim, "|")));
                    }
                }
                console::note(
                    "the supervisor keeps running: `weft why SERVICE` explains, `weft down` stops it",
                );
            }
        }
    }
    Ok(if ready {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}

fn tail(path: &PathBuf, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
