//! `cargo xtask vendor-web`: bundles the browser libraries the basic-sfu page loads.
//!
//! `examples/web/` pins them (`package.json`, `package-lock.json`); this task installs
//! exactly the locked versions (`npm ci`, the only step that downloads), bundles each entry
//! module there into one ES module under `examples/src/bin/basic-sfu/vendor/` with
//! esbuild, and writes the licenses of every package a bundle holds beside it. The
//! bundles are committed: building basic-sfu and running its tests needs neither npm nor
//! a network.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use crate::exec::{root, run};

/// The entry modules in `examples/web/`, each bundled under the same name.
const ENTRIES: &[&str] = &["whip-client.js"];

pub(crate) fn run_vendor() -> anyhow::Result<()> {
    let web = root().join("examples/web");
    let out = root().join("examples/src/bin/basic-sfu/vendor");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&web))?;
    std::fs::create_dir_all(&out)?;
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(web.join("package-lock.json")).context("package-lock.json")?,
    )?;
    // Every package the bundles can hold: the locked ones that are not build tools.
    let mut licenses = String::from(
        "Licenses of the packages bundled into this directory by `cargo xtask vendor-web`\n\
         (from examples/web/package-lock.json).\n",
    );
    let mut banner = String::new();
    for (path, pkg) in lock["packages"].as_object().context("lock packages")? {
        let Some(name) = path.strip_prefix("node_modules/") else {
            continue;
        };
        if pkg["dev"].as_bool() == Some(true) {
            continue;
        }
        let version = pkg["version"].as_str().unwrap_or("?");
        let license = pkg["license"].as_str().unwrap_or("?");
        let _ = write!(banner, " {name}@{version} ({license})");
        let text = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"]
            .iter()
            .find_map(|f| std::fs::read_to_string(web.join(path).join(f)).ok())
            .with_context(|| format!("no license file in {path}"))?;
        let _ = write!(
            licenses,
            "\n==== {name} {version} ({license}) ====\n\n{text}"
        );
    }
    for entry in ENTRIES {
        run(Command::new(web.join("node_modules/.bin/esbuild"))
            .arg(entry)
            .args(["--bundle", "--format=esm", "--minify", "--legal-comments=eof"])
            .arg(format!(
                "--banner:js=// Bundled by `cargo xtask vendor-web` from examples/web/{entry}:{banner}. Licenses: LICENSES.txt."
            ))
            .arg(format!("--outfile={}", out.join(entry).display()))
            .current_dir(&web))?;
    }
    std::fs::write(out.join("LICENSES.txt"), licenses)?;
    println!("vendor-web: wrote {}", out.display());
    Ok(())
}
