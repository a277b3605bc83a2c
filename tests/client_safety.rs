//! The terminal client on the user's own machine: what `hoist download` may write (a name the
//! server gives is a stranger's; an existing file stays unless --force), where the token may
//! come from, and who may read the client's state file. The real binary against the real
//! server, Garage and SQLite.

mod common;

use common::{
    app::App,
    bytes,
    client::{field, text, write, Client},
};
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

/// Makes the server call upload `id` `name`, as a server that does not clean names (an older
/// one, or one that is not ours) would.
async fn name_it(app: &App, id: &str, name: &str) {
    let db = app.database().await;
    sqlx::query("UPDATE uploads SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(id)
        .execute(db.writer())
        .await
        .expect("renamed");
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a folder") {
            let path = entry.expect("an entry").path();
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                folders.push(path);
            } else {
                found.push(path.strip_prefix(dir).expect("inside").to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// Uploads one small file through the client; its id and bytes.
fn one_file(client: &Client, dir: &Path) -> (String, Vec<u8>) {
    let data = bytes(1000, 5);
    let source = write(dir, "source/note.txt", &data);
    let (out, lines) = client.upload(&[&source]);
    assert!(out.status.success(), "{}", text(&out));
    (field(&lines[0], "id").to_string(), data)
}

#[tokio::test]
async fn a_download_keeps_only_a_plain_last_name_from_the_server() {
    let app = App::start(&[]).await;
    let client = Client::new(&app, "names@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let (id, data) = one_file(&client, dir.path());
    let here = dir.path().join("a/b/here");
    std::fs::create_dir_all(&here).expect("folder");

    for (given, kept) in [
        ("../../evil", "evil"),
        ("a/b/c.txt", "c.txt"),
        ("..\\..\\win.ini", "win.ini"),
    ] {
        name_it(&app, &id, given).await;
        let out = client
            .command(&["download", &id])
            .current_dir(&here)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{given}: {}", text(&out));
        let written = std::fs::read(here.join(kept))
            .unwrap_or_else(|e| panic!("{given} not written as {kept}: {e}; {}", text(&out)));
        assert!(written == data, "{given}");
    }
    for given in [".bashrc", "dir/..", "a/", "..", "bell\u{7}.txt"] {
        name_it(&app, &id, given).await;
        let out = client
            .command(&["download", &id])
            .current_dir(&here)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{given:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--output"),
            "{given:?}: {}",
            text(&out)
        );
    }
    // A name refused from the server is still written where the user says.
    let out = client
        .command(&["download", &id, "-o", "dotfile-ok"])
        .current_dir(&here)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));

    let expected: Vec<PathBuf> = [
        "a/b/here/c.txt",
        "a/b/here/dotfile-ok",
        "a/b/here/evil",
        "a/b/here/win.ini",
        "source/note.txt",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(files_under(dir.path()), expected);
}

#[tokio::test]
async fn a_download_never_replaces_a_file_without_force() {
    let app = App::start(&[]).await;
    let client = Client::new(&app, "force@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let (id, data) = one_file(&client, dir.path());
    let here = dir.path().join("here");
    write(&here, "note.txt", b"mine");
    write(&here, "other", b"theirs");
    let outside = dir.path().join("outside");
    std::os::unix::fs::symlink(&outside, here.join("link")).expect("a link");
    let download = |args: &[&str]| {
        let mut all = vec!["download", id.as_str()];
        all.extend(args);
        client
            .command(&all)
            .current_dir(&here)
            .output()
            .expect("runs")
    };

    let refused: [&[&str]; 4] = [&[], &["-o", "other"], &["-o", "."], &["-o", "link"]];
    for args in refused {
        let out = download(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--force"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(std::fs::read(here.join("note.txt")).expect("kept"), b"mine");
    assert_eq!(std::fs::read(here.join("other")).expect("kept"), b"theirs");
    assert!(
        std::fs::symlink_metadata(&outside).is_err(),
        "written through the link"
    );

    let out = download(&["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(here.join("note.txt")).expect("replaced") == data);
    let out = download(&["--force", "-o", "link"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::symlink_metadata(&outside).is_err(),
        "written through the link"
    );
    let names: Vec<PathBuf> = ["link", "note.txt", "other"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(files_under(&here), names, "a temporary file stayed");
}

#[tokio::test]
async fn the_token_comes_from_the_environment_or_a_file_and_the_state_file_is_private() {
    let app = App::start(&[]).await;
    let client = Client::new(&app, "token@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    // Through HOIST_TOKEN, as the client is always run here.
    let (id, _) = one_file(&client, dir.path());
    let state = client.cache.path().join("hoist/uploads.json");
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o600, "the state file");
    assert_eq!(mode(state.parent().expect("folder")), 0o700, "its folder");

    let token_file = write(
        dir.path(),
        "token",
        format!("{}\n", client.token).as_bytes(),
    );
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let path = token_file.to_str().expect("utf-8");
    let listed = |args: &[&str], env: Option<(&str, &str)>| {
        let mut command = client.command(args);
        command.env_remove("HOIST_TOKEN");
        if let Some((k, v)) = env {
            command.env(k, v);
        }
        command.output().expect("runs")
    };
    for (args, env) in [
        (&["ls", "--token-file", path][..], None),
        (&["ls"][..], Some(("HOIST_TOKEN_FILE", path))),
        (&["ls", "--token", client.token.as_str()][..], None),
    ] {
        let out = listed(args, env);
        assert!(out.status.success(), "{args:?} {env:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
        assert!(out.stderr.is_empty(), "{}", text(&out));
    }

    // Two tokens are one too many; a token file others can read still works, with a warning.
    let out = listed(
        &["ls", "--token-file", path],
        Some(("HOIST_TOKEN", client.token.as_str())),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = listed(&["ls", "--token-file", path], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("other users"),
        "{}",
        text(&out)
    );
    let out = listed(&["ls", "--token-file", "/nonexistent/token"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
