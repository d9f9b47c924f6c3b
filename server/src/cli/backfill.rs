//! `patchbay backfill`: one connection's sync now, through the job registry, with a progress bar.

use anyhow::Context as _;
use server::{Config, startup};

use super::say;

/// Shows a job's committed progress as it moves, until dropped.
pub(super) async fn follow_progress(
    platform: platform::Platform,
    team: platform::ids::TeamId,
    job: platform::ids::JobId,
    on_page: &(dyn Fn(i64, Option<i64>) + Send + Sync),
) -> std::convert::Infallible {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        every.tick().await;
        if let Ok(Some(job)) = platform::jobs::get(&platform.db, &team, &job).await {
            on_page(job.progress_done, job.progress_total);
        }
    }
}

/// The most memory this process has held, in bytes (Linux's `VmHWM`).
pub(super) fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

pub(super) fn progress_bar(message: String) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})")
            .context("the progress bar's template")?,
    );
    bar.set_message(message);
    Ok(bar)
}

pub(super) async fn backfill(
    config: &Config,
    provider: &str,
    team: &str,
    full: bool,
    no_store: bool,
) -> anyhow::Result<()> {
    use platform::jobs::{Kind, State};

    let provider = &platform::ids::ProviderId::parse(provider).map_err(|_| {
        anyhow::anyhow!("`{provider}` is not a provider id: use the id of the catalog's file, as `linear`")
    })?;
    let (platform, _) = startup::build_platform(config, &startup::configured_public_url(config)).await?;
    let found = platform::store::teams::find(&platform.db, team).await.map_err(|e| match e {
        platform::Error::NotFound => anyhow::anyhow!("--team: no team has the id or name `{team}`"),
        other => anyhow::anyhow!("--team: {other}"),
    })?;
    let bar = progress_bar(format!("{provider} for {}", found.name))?;
    let on_page = |done: i64, total: Option<i64>| {
        if let Some(total) = total {
            bar.set_length(u64::try_from(total).unwrap_or(0));
        }
        bar.set_position(u64::try_from(done).unwrap_or(0));
    };
    let started = std::time::Instant::now();
    let summary = |read: i64, stored: i64| {
        let seconds = started.elapsed().as_secs_f64();
        let rate = read as f64 / seconds.max(f64::EPSILON);
        let memory = peak_memory().map_or_else(String::new, |b| format!("; peak memory {:.1} MB", b as f64 / 1e6));
        format!("{provider}: {read} records read, {stored} stored in {seconds:.2} s ({rate:.0} records/s){memory}")
    };
    if no_store {
        let read = platform::jobs::sync::read_only(&platform, &found.id, provider, &on_page)
            .await
            .map_err(|failure| anyhow::anyhow!("{provider}: {}", failure.message))?;
        bar.finish();
        platform.db.close().await;
        return say(&summary(read, 0));
    }
    let kind = if full { Kind::FullBackfill } else { Kind::Incremental };
    let queued = platform::jobs::sync::enqueue(&platform, &found.id, provider, kind).await.map_err(|e| match e {
        platform::Error::NotFound => anyhow::anyhow!("{provider}: team \"{}\" has no such connection", found.name),
        other => anyhow::anyhow!("{provider}: {other}"),
    })?;
    let worker = platform::jobs::worker_name("backfill");
    // A connection of several streams has a job per stream: each runs in
    // turn, and the summary counts them all.
    let (mut read, mut stored) = (0, 0);
    for enqueued in &queued.0 {
        let state = loop {
            platform::jobs::interrupt_lapsed(&platform.db).await?;
            let lease = platform::jobs::handler(kind).lease(&platform);
            let job = platform::jobs::claim_one(&platform.db, &worker, enqueued.id(), lease).await?;
            let Some(job) = job else {
                let current = platform::jobs::get(&platform.db, &found.id, enqueued.id()).await?;
                match current.map(|j| j.state) {
                    Some(State::Running | State::Queued) => {
                        bar.set_message("waiting: another worker holds this sync, or it waits to try again");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                    Some(state) => break state,
                    None => anyhow::bail!("the sync job disappeared"),
                }
            };
            // The job runs through the registry like any other; the bar follows
            // the progress it commits.
            let follow = follow_progress(platform.clone(), found.id.clone(), job.id.clone(), &on_page);
            let state = tokio::select! {
                state = platform::jobs::run_claimed(&platform, &job, &worker) => state?,
                never = follow => match never {},
            };
            let ended = platform::jobs::get(&platform.db, &found.id, &job.id).await?;
            on_page(ended.as_ref().map_or(0, |j| j.progress_done), ended.as_ref().and_then(|j| j.progress_total));
            let error = ended.as_ref().and_then(|j| Some((j.error_class.as_deref()?, j.last_error.as_deref()?)));
            if let (false, Some((class, message))) = (state == State::Completed, error) {
                bar.println(format!("{class}: {message}"));
            }
            match state {
                State::Queued | State::Interrupted => continue,
                state => break state,
            }
        };
        let job = platform::jobs::get(&platform.db, &found.id, enqueued.id()).await?;
        let Some(job) = job else { anyhow::bail!("the sync job disappeared") };
        if state != State::Completed {
            platform.db.close().await;
            anyhow::bail!("the sync {}: {}", state.as_str(), job.last_error.unwrap_or_default());
        }
        read += job.progress_done;
        stored += job.items;
    }
    bar.finish();
    platform.db.close().await;
    say(&summary(read, stored))
}
