//! `cargo xtask e2e`: browser end-to-end tests with headless Chromium.

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    run_all()
}

pub(crate) fn run_all() -> anyhow::Result<()> {
    println!("e2e: no browser tests exist yet (the basic-sfu example is not built); nothing ran");
    Ok(())
}
