//! The terminal client as a person runs it: the real `hoist` binary with an account's token
//! and a cache folder of its own, against the real binary as a server.

use super::app::{App, PASSWORD};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// An account on `app`, its token, and a cache folder of its own for the client's state.
pub struct Client<'a> {
    pub app: &'a App,
    pub token: String,
    pub cache: tempfile::TempDir,
}

impl<'a> Client<'a> {
    pub async fn new(app: &'a App, email: &str) -> Self {
        let made = app.admin(&["users", "create", email], PASSWORD);
        assert!(made.status.success(), "{made:?}");
        let token = app.admin(&["tokens", "create", email, "tests"], "");
        assert!(token.status.success(), "{token:?}");
        Self {
            app,
            token: String::from_utf8(token.stdout)
                .expect("utf-8")
                .trim()
                .to_string(),
            cache: tempfile::tempdir().expect("cache dir"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(super::app::hoist_binary());
        command
            .args(args)
            .env("HOIST_SERVER", &self.app.base)
            .env("HOIST_TOKEN", &self.token)
            .env("XDG_CACHE_HOME", self.cache.path())
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("hoist runs")
    }

    /// `hoist upload --json PATHS`: its exit code and one JSON object per finished file.
    pub fn upload(&self, paths: &[&Path]) -> (Output, Vec<Value>) {
        let mut args = vec!["upload", "--json"];
        args.extend(paths.iter().map(|p| p.to_str().expect("utf-8 path")));
        let output = self.run(&args);
        let lines = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        (output, lines)
    }

    pub fn download(&self, id: &str, to: &Path) -> Vec<u8> {
        // Tests fetch several files to one path: replacing it is what they ask for.
        let out = self.run(&["download", "--force", id, "-o", to.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{out:?}");
        std::fs::read(to).expect("downloaded file")
    }

    /// The account's browser session, for calls the client does not make.
    pub async fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .default_headers(
                [(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", self.token).parse().expect("header"),
                )]
                .into_iter()
                .collect(),
            )
            // Below the server's idle limit (see `App::browser`).
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("client")
    }

    /// The upload the client's state file names for an unfinished file.
    pub fn remembered_upload(&self) -> String {
        let path = self.cache.path().join("hoist/uploads.json");
        let state: Value =
            serde_json::from_slice(&std::fs::read(path).expect("state file")).expect("json");
        state["uploads"][0]["upload_id"]
            .as_str()
            .expect("an unfinished upload")
            .to_string()
    }
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("folder");
    }
    std::fs::write(&path, data).expect("write");
    path
}

pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn field<'v>(line: &'v Value, name: &str) -> &'v str {
    line[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {line}"))
}
