use super::*;
use std::os::unix::{fs::PermissionsExt, process::ExitStatusExt};

/// The command builder, run on a script that reports what a child gets: its environment,
/// its limits and its process group.
#[tokio::test]
async fn the_child_gets_no_environment_but_path_and_runs_under_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("report");
    std::fs::write(
        &script,
        "#!/bin/sh\nenv\necho \"limits $(ulimit -v) $(ulimit -n) $(ulimit -f) $(ulimit -c) $(ulimit -t)\"\n\
         read -r stat < /proc/$$/stat\necho \"stat $$ $stat\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let limits = Limits {
        memory: 512 << 20,
        deadline: Duration::from_secs(60),
    };
    let out = command(&script, &limits).output().await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();

    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .filter(|n| !n.contains(' '))
        .collect();
    // What the shell sets itself, and PATH.
    let allowed = ["PATH", "PWD", "OLDPWD", "SHLVL", "_"];
    assert!(
        names.iter().all(|n| allowed.contains(n)),
        "the child saw {names:?}"
    );
    assert!(names.contains(&"PATH"), "{names:?}");
    // Not vacuous: this test's own process has more (cargo's variables at least, and the
    // store's keys and the database URL where the test environment sets them).
    let ours: Vec<String> = std::env::vars().map(|(n, _)| n).collect();
    assert!(
        ours.iter().any(|n| !allowed.contains(&n.as_str())),
        "{ours:?}"
    );
    for secret in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "HOIST_DATABASE_URL",
    ] {
        assert!(!text.contains(secret), "{secret} reached the child");
    }

    let limits_line = text.lines().find(|l| l.starts_with("limits ")).unwrap();
    // ulimit speaks KiB for the address space and file size, seconds for CPU.
    assert_eq!(limits_line, "limits 524288 256 0 0 61");

    // Its own process group (the pid is the group id), so a deadline kills what it started.
    let stat = text.lines().find(|l| l.starts_with("stat ")).unwrap();
    let pid: &str = stat.split_whitespace().nth(1).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    let pgrp = after_name.split_whitespace().nth(2).unwrap();
    assert_eq!(pgrp, pid, "{stat}");
}

#[test]
fn a_childs_end_reads_as_its_reason() {
    let memory = 256 << 20;
    let oom = b"memory allocation of 432000000 bytes failed\n";
    assert_eq!(
        ended(ExitStatus::from_raw(libc::SIGABRT), oom, memory),
        Err(Death::OutOfMemory { limit: memory })
    );
    assert_eq!(
        ended(ExitStatus::from_raw(libc::SIGKILL), b"", memory),
        Err(Death::Killed(9))
    );
    assert_eq!(
        ended(ExitStatus::from_raw(libc::SIGXCPU), b"", memory),
        Err(Death::CpuTime)
    );
    assert!(matches!(
        ended(ExitStatus::from_raw(101 << 8), b"thread 'main' panicked\n", memory),
        Err(Death::Exited(why)) if why.contains("panicked")
    ));
    assert_eq!(ended(ExitStatus::from_raw(0), b"", memory), Ok(()));
    let e = JobError::Died(Death::OutOfMemory { limit: memory });
    assert_eq!(
        e.to_string(),
        "the decoder died: it ran out of memory (its limit is 256 MiB)"
    );
    assert!(!e.is_permanent());
    assert!(e.died());
    assert!(JobError::Died(Death::Killed(libc::SIGKILL)).died());
    // Stopped with the whole service (systemd's control-group kill): not the job's doing.
    assert!(!JobError::Died(Death::Killed(libc::SIGTERM)).died());
    assert!(!JobError::Deadline(Duration::from_secs(2)).died());
    assert!(JobError::Deadline(Duration::from_secs(2)).is_permanent());
}

fn line(answer: &Answer) -> Vec<u8> {
    let mut out = serde_json::to_vec(answer).unwrap();
    out.push(b'\n');
    out
}

#[test]
fn an_answer_is_read_only_as_announced() {
    let found = Answer::Found {
        width: Some(4),
        height: Some(3),
        duration_ms: None,
        codecs: None,
        jpeg: Some(4),
        fetched: None,
    };
    let mut good = line(&found);
    good.extend_from_slice(&[0xFF, 0xD8, 1, 2]);
    let (answer, jpeg) = read_answer(&good).unwrap();
    assert_eq!(
        (answer, jpeg),
        (found.clone(), Some(vec![0xFF, 0xD8, 1, 2]))
    );

    let mut short = line(&found);
    short.extend_from_slice(&[0xFF, 0xD8, 1]);
    assert!(matches!(read_answer(&short), Err(Death::Garbled(_))));
    let mut not_jpeg = line(&found);
    not_jpeg.extend_from_slice(b"<svg");
    assert!(matches!(read_answer(&not_jpeg), Err(Death::Garbled(_))));
    let skipped = Answer::Skipped { why: "no".into() };
    let mut trailing = line(&skipped);
    trailing.push(b'x');
    assert!(matches!(read_answer(&trailing), Err(Death::Garbled(_))));
    assert!(matches!(
        read_answer(b"{\"outcome\":"),
        Err(Death::Garbled(_))
    ));
    assert_eq!(read_answer(&line(&skipped)).unwrap(), (skipped, None));
}
