//! Who the server believes a client is, and what signing up and in may cost, against the real
//! `hoist` binary over HTTP: forged `X-Forwarded-For` entries, one IPv6 /64 posing as many
//! hosts, a lock-out attempt on someone else's account, and a flood of sign-ups.

mod common;

use common::app::{form, Answer, App, PASSWORD};
use futures::future::join_all;
use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

/// The kind of error an answer carries, as it reads on the wire.
fn error_name(answer: &Answer) -> String {
    serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| panic!("not an error: {answer:?}"))
}

/// Behind a proxy on loopback that each test trusts, with a per-network limit of 1 call a
/// second after a burst of 20 (the per-caller limit off, as every test app has it).
const BEHIND_PROXY: [(&str, &str); 3] = [
    ("HOIST_TRUSTED_PROXIES", "127.0.0.1/32"),
    ("HOIST_IP_RATE_LIMIT", "1"),
    ("HOIST_IP_RATE_BURST", "20"),
];

/// Random enough to be a fresh address every call (the first octet kept public).
fn random_ipv4() -> String {
    let b = uuid::Uuid::new_v4().into_bytes();
    format!("{}.{}.{}.{}", 11 + b[0] % 100, b[1], b[2], b[3].max(1))
}

/// POSTs `body` to `name` as a client behind the trusted proxy, which says it heard from
/// `forwarded`.
async fn call_from(app: &App, forwarded: &str, name: &str, body: &str) -> Answer {
    let request = reqwest::Client::new()
        .post(format!("{}/api/{name}", app.base))
        .header("x-forwarded-for", forwarded);
    app.call_with(request, body.as_bytes().to_vec()).await
}

/// How many of `n` calls to `whoami`, each forwarded as `forwarded(i)`, are refused with 429.
async fn refusals(app: &App, n: usize, forwarded: impl Fn(usize) -> String) -> usize {
    let mut refused = 0;
    for i in 0..n {
        let answer = call_from(app, &forwarded(i), "whoami", "").await;
        assert!(
            answer.status == 200 || answer.status == 429,
            "{i}: {answer:?}"
        );
        refused += usize::from(answer.status == 429);
    }
    refused
}

#[tokio::test]
async fn junk_in_x_forwarded_for_does_not_choose_the_clients_address() {
    let app = App::start(&BEHIND_PROXY).await;
    // The proxy appended what it heard from: a forged address to the left of junk is never
    // believed, so every call is the proxy's own (one bucket).
    let began = Instant::now();
    let refused = refusals(&app, 100, |_| format!("{}, x", random_ipv4())).await;
    let allowed_at_most = 20 + began.elapsed().as_secs() as usize + 1;
    println!("junk entry: {refused} of 100 refused");
    assert!(
        refused >= 100 - allowed_at_most,
        "{refused} of 100 calls with a junk X-Forwarded-For entry refused"
    );
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_64_share_one_per_network_limit() {
    // One IPv6 /64 is one network, however many of its addresses a host takes.
    let app = App::start(&BEHIND_PROXY).await;
    let began = Instant::now();
    let refused = refusals(&app, 100, |_| {
        let b = uuid::Uuid::new_v4().into_bytes();
        format!("2001:db8:5:6:{:x}:{:x}:{:x}:{:x}", b[0], b[1], b[2], b[3])
    })
    .await;
    let allowed_at_most = 20 + began.elapsed().as_secs() as usize + 1;
    println!("one /64: {refused} of 100 refused");
    assert!(
        refused >= 100 - allowed_at_most,
        "{refused} of 100 calls from one /64 refused"
    );

    // Well-formed entries from the trusted proxy are still believed: distinct clients have
    // buckets of their own.
    let refused = refusals(&app, 30, |_| random_ipv4()).await;
    assert_eq!(
        refused, 0,
        "clients named by the trusted proxy share a bucket"
    );
}

fn credentials(email: &str, password: &str) -> String {
    form(&[("email", email), ("password", password)])
}

#[tokio::test]
async fn wrong_passwords_from_one_network_do_not_lock_the_owner_out_from_another() {
    let app = App::start(&[("HOIST_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let made = app.admin(&["users", "create", "victim@example.com"], PASSWORD);
    assert!(made.status.success(), "{made:?}");

    let mut statuses = Vec::new();
    for _ in 0..50 {
        let answer = call_from(
            &app,
            "203.0.113.9",
            "sign_in",
            &credentials("victim@example.com", "wrong guess"),
        )
        .await;
        statuses.push(answer.status);
    }
    println!("attacker: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    // The guesser is slowed down long before its 50 tries are through.
    assert!(
        statuses.iter().filter(|s| **s == 401).count() <= 10,
        "{statuses:?}"
    );

    let owner = call_from(
        &app,
        "198.51.100.20",
        "sign_in",
        &credentials("victim@example.com", PASSWORD),
    )
    .await;
    assert_eq!(
        owner.status, 200,
        "the owner, from another network: {owner:?}"
    );
}

/// Signs up `email` as a fresh client from `forwarded` (or straight from loopback).
async fn sign_up(app: &App, forwarded: Option<&str>, pairs: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().post(format!("{}/api/sign_up", app.base));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    app.call_with(request, form(pairs).into_bytes()).await
}

#[tokio::test]
async fn with_sign_up_closed_no_one_signs_up_and_is_told_why() {
    let app = App::start(&[("HOIST_SIGN_UP", "closed")]).await;
    let answer = sign_up(
        &app,
        None,
        &[("email", "nina@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(error_name(&answer), "SignUpClosed");
    assert!(answer.body.contains("message"), "{answer:?}");
    // The operator still makes accounts, and they sign in.
    let made = app.admin(&["users", "create", "nina@example.com"], PASSWORD);
    assert!(made.status.success(), "{made:?}");
    let answer = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("nina@example.com", PASSWORD),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn with_invitations_only_a_good_code_signs_up_and_only_once() {
    let app = App::start(&[("HOIST_SIGN_UP", "invite")]).await;
    let invited = app.admin(&["users", "invite"], "");
    assert!(invited.status.success(), "{invited:?}");
    let code = String::from_utf8_lossy(&invited.stdout).trim().to_string();
    assert!(code.len() >= 20 && !code.contains(' '), "{code:?}");
    let expired = app.admin(&["users", "invite", "--expires-in", "1s"], "");
    assert!(expired.status.success(), "{expired:?}");
    let expired = String::from_utf8_lossy(&expired.stdout).trim().to_string();

    let up = |email: &'static str, invite: Option<String>| {
        let app = &app;
        async move {
            let mut pairs = vec![("email", email), ("password", PASSWORD)];
            if let Some(invite) = &invite {
                pairs.push(("invite", invite.as_str()));
            }
            sign_up(app, None, &pairs).await
        }
    };
    for (what, invite) in [
        ("no code", None),
        (
            "a made-up code",
            Some("0123456789abcdef0123456789abcdef".to_string()),
        ),
        (
            "a code with one character changed",
            // Changed: a code that ends in 0 gets a 1 (it once "changed" a 0 into a 0).
            Some(format!(
                "{}{}",
                &code[..code.len() - 1],
                if code.ends_with('0') { '1' } else { '0' }
            )),
        ),
    ] {
        let answer = up("olga@example.com", invite).await;
        assert_eq!(answer.status, 403, "{what}: {answer:?}");
        assert_eq!(error_name(&answer), "BadInvite", "{what}");
    }
    let answer = up("olga@example.com", Some(code.clone())).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let signed_in = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("olga@example.com", PASSWORD),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    // Used once, the code is spent.
    let again = up("pia@example.com", Some(code)).await;
    assert_eq!(again.status, 403, "{again:?}");
    assert_eq!(error_name(&again), "BadInvite");
    // A code past its expiry is no code.
    common::eventually(Duration::from_secs(10), "the short code expires", || {
        let up = &up;
        let expired = expired.clone();
        async move { up("pia@example.com", Some(expired)).await.status == 403 }
    })
    .await;
}

#[tokio::test]
async fn signing_up_with_a_taken_email_answers_exactly_as_with_a_fresh_one() {
    let app = App::start(&[]).await;
    let made = app.admin(&["users", "create", "quinn@example.com"], PASSWORD);
    assert!(made.status.success(), "{made:?}");
    let answer = |email: &'static str| {
        let app = &app;
        async move {
            let response = reqwest::Client::new()
                .post(format!("{}/api/sign_up", app.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(credentials(email, "another password"))
                .send()
                .await
                .expect("answer");
            let cookie = response.headers().get("set-cookie").is_some();
            let status = response.status().as_u16();
            (status, cookie, response.text().await.unwrap_or_default())
        }
    };
    let fresh = answer("rosa@example.com").await;
    let taken = answer("Quinn@Example.com").await;
    println!("fresh {fresh:?}, taken {taken:?}");
    assert_eq!(fresh.0, 200, "{fresh:?}");
    assert_eq!(fresh, taken);
    // The fresh account exists and the taken one kept its password.
    for (email, password) in [
        ("rosa@example.com", "another password"),
        ("quinn@example.com", PASSWORD),
    ] {
        let signed_in = app
            .call(&app.browser(), "sign_in", &credentials(email, password))
            .await;
        assert_eq!(signed_in.status, 200, "{email}: {signed_in:?}");
    }
}

/// `n` sign-ups at once, each from `forwarded(i)`, while one person signs in: the statuses of
/// the sign-ups, and how long the sign-in took.
async fn sign_ups_during_a_sign_in(
    app: &App,
    n: usize,
    forwarded: impl Fn(usize) -> Option<String>,
) -> (Vec<u16>, Duration) {
    let answered = AtomicUsize::new(0);
    let answered = &answered;
    let sign_ups = join_all((0..n).map(|i| {
        let email = format!("flood{i}-{}@example.com", uuid::Uuid::new_v4().simple());
        let from = forwarded(i);
        async move {
            let status = sign_up(
                app,
                from.as_deref(),
                &[("email", email.as_str()), ("password", PASSWORD)],
            )
            .await
            .status;
            answered.fetch_add(1, Ordering::SeqCst);
            status
        }
    }));
    let sign_in = async {
        // Once the flood is under way: the server has answered some of it.
        common::eventually(Duration::from_secs(30), "the flood is answered", || async {
            answered.load(Ordering::SeqCst) > 0
        })
        .await;
        let began = Instant::now();
        let answer = app
            .call(
                &app.browser(),
                "sign_in",
                &credentials("sam@example.com", PASSWORD),
            )
            .await;
        assert_eq!(
            answer.status, 200,
            "the sign-in during the flood: {answer:?}"
        );
        began.elapsed()
    };
    tokio::join!(sign_ups, sign_in)
}

#[tokio::test]
async fn a_flood_of_sign_ups_is_refused_with_429_and_never_delays_a_sign_in() {
    let app = App::start(&[("HOIST_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let made = app.admin(&["users", "create", "sam@example.com"], PASSWORD);
    assert!(made.status.success(), "{made:?}");

    // From one network: its sign-up allowance is spent after a few.
    let (statuses, took) = sign_ups_during_a_sign_in(&app, 200, |_| None).await;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    println!("one network: {refused} of 200 refused, sign-in took {took:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        refused >= 185,
        "{refused} of 200 sign-ups from one network refused"
    );
    assert!(took < Duration::from_secs(3), "the sign-in took {took:?}");

    // From 200 networks: the hashing queue is full long before, and says so; a sign-in
    // still goes first.
    let (statuses, took) = sign_ups_during_a_sign_in(&app, 200, |i| {
        Some(format!("198.51.{}.{}", i / 200, i % 200 + 1))
    })
    .await;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    println!("200 networks: {refused} of 200 refused, sign-in took {took:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        refused >= 100,
        "{refused} of 200 sign-ups past a full queue refused"
    );
    assert!(took < Duration::from_secs(3), "the sign-in took {took:?}");
}
