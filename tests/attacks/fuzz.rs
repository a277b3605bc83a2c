//! The attack run: thousands of random bodies and requests against every server function and
//! route, with the server's health and memory watched throughout.

use super::*;

/// The attack run: random form bodies, shaped like each registered server function's
/// arguments with hostile values, then pure noise, then random requests to every route — while
/// a watcher reads the server's memory and asks `/healthz` every 200 ms. Never a 5xx, the
/// server alive, healthy throughout, and its memory within 64 MiB of where it started.
/// `bench/attack.sh` prints these figures into docs/security.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_bodies_per_server_function_and_route_never_get_a_5xx() {
    const BODIES: usize = 10_000;
    let mut app = App::start(&[]).await;
    let client = app.browser();
    let began = std::time::Instant::now();
    // The fields each function takes, for bodies shaped like its arguments. A function not
    // named here (added since) is still fuzzed, with every field any function takes.
    let known: &[(&str, &[&str])] = &[
        ("start_upload", &["name", "size", "content_type"]),
        (
            "start_uploads",
            &[
                "files[0][name]",
                "files[0][size]",
                "files[0][content_type]",
                "files[0][checksum]",
                "files[1][name]",
                "files[1][size]",
            ],
        ),
        ("complete_uploads", &["upload_ids[0]", "upload_ids[1]"]),
        (
            "sign_parts",
            &[
                "upload_id",
                "parts[0][part_number]",
                "parts[0][checksum]",
                "parts[1][part_number]",
            ],
        ),
        ("resume_upload", &["upload_id", "size", "content_type"]),
        ("keep_upload_alive", &["upload_id"]),
        ("complete_upload", &["upload_id"]),
        ("abort_upload", &["upload_id"]),
        ("delete_upload", &["upload_id"]),
        ("delete_uploads", &["upload_ids[0]", "upload_ids[1]"]),
        ("list_uploads", &["cursor", "search", "sort"]),
        ("engine_settings", &[]),
        ("get_file", &["upload_id", "key"]),
        (
            "describe_file",
            &["upload_id", "title", "description", "visibility"],
        ),
        ("public_files", &[]),
        ("new_share_link", &["upload_id"]),
        ("change_password", &["current_password", "new_password"]),
        ("delete_account", &["password"]),
        ("sign_up", &["email", "password", "invite"]),
        ("sign_in", &["email", "password"]),
        ("sign_out", &[]),
        ("whoami", &[]),
        ("create_token", &["name", "password", "expires_in_days"]),
        ("list_tokens", &[]),
        ("revoke_token", &["token_id"]),
    ];
    let every_field: Vec<&str> = {
        let mut all: Vec<&str> = known.iter().flat_map(|(_, f)| f.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let registered = common::app::server_functions();
    let functions: Vec<(String, Vec<&str>)> = registered
        .iter()
        .map(|name| {
            let fields = known
                .iter()
                .find(|(k, _)| k == name)
                .map_or_else(|| every_field.clone(), |(_, f)| f.to_vec());
            (name.clone(), fields)
        })
        .collect();
    // One real upload, so some guesses name something that exists.
    let real = start(&app, &client, "real.bin", 10, "").await.upload_id;
    let values = [
        "",
        "0",
        "1",
        "-1",
        "10001",
        "4294967296",
        "18446744073709551616",
        "1e9",
        "NaN",
        "%00",
        "%ff%fe",
        "%E2%80%AE",
        "..%2F..%2Fetc",
        "a%5Bb%5D",
        "true",
        "%20",
        "image%2Fpng",
        "%2F%2F",
        "x%3Dy%26z",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut fives = Vec::new();
    let mut sent = 0usize;
    // Warmed up (one upload made, the pool open): memory is measured from here.
    let start_rss = common::app::resident_bytes(app.pid());
    let watch = common::app::Watch::start(&app);
    for (name, fields) in functions {
        let mut bodies = Vec::with_capacity(BODIES);
        for i in 0..BODIES {
            let body: Vec<u8> = if i % 4 == 3 {
                (0..next() % 200).map(|_| (next() % 256) as u8).collect()
            } else {
                let mut parts = Vec::new();
                for field in &fields {
                    if next() % 5 == 0 {
                        continue;
                    }
                    let value = match next() % 4 {
                        0 => real.clone(),
                        _ => values[(next() % values.len() as u64) as usize].to_string(),
                    };
                    parts.push(format!("{field}={value}"));
                }
                parts.join("&").into_bytes()
            };
            bodies.push(body);
        }
        let url = format!("{}/api/{name}", app.base);
        let answers = futures::stream::iter(bodies)
            .map(|body| {
                let request = client.post(&url);
                let app = &app;
                async move { (app.call_with(request, body.clone()).await, body) }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        sent += answers.len();
        println!(
            "attack run, {name}: server memory {:.1} MiB",
            common::app::resident_bytes(app.pid()) as f64 / 1048576.0
        );
        for (answer, body) in answers {
            if answer.status >= 500 {
                fives.push(format!(
                    "{name} {:?} → {answer:?}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }
    }
    // Every route, with hostile paths, queries and headers.
    let routes = random_route_requests(&app, &real, BODIES, &mut next);
    // Redirects are not followed: the server's answer is what is judged, not the store's.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answers = futures::stream::iter(routes)
        .map(|(method, path, header)| {
            let (client, quick, base) = (&client, &quick, &app.base);
            async move {
                // A live feed answers its head at once and then streams: the head is enough.
                let with_cookie = path.starts_with("/events");
                let http = if with_cookie { client } else { quick };
                let mut request = http.request(method.clone(), format!("{base}{path}"));
                if let Some((name, value)) = &header {
                    request = request.header(*name, value.as_str());
                }
                let status =
                    match tokio::time::timeout(Duration::from_secs(5), request.send()).await {
                        Ok(Ok(answer)) => answer.status().as_u16(),
                        Ok(Err(e)) if e.is_builder() => 400,
                        Ok(Err(e)) => panic!("{method} {path}: no answer: {e}"),
                        Err(_) => panic!("{method} {path}: no head within 5 s"),
                    };
                (status, format!("{method} {path} {header:?}"))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    sent += answers.len();
    fives.extend(
        answers
            .into_iter()
            .filter(|(status, _)| *status >= 500)
            .map(|(status, what)| format!("{what} → {status}")),
    );
    let watched = watch.stop().await;
    let grew = watched.max_rss.saturating_sub(start_rss);
    println!(
        "attack run: {sent} requests in {:.0} s, {} answered 5xx; server memory {:.1} MiB at the \
         start, at most {:.1} MiB (+{:.1} MiB); /healthz asked {} times, {} failed or slower than \
         1 s, slowest {} ms",
        began.elapsed().as_secs_f64(),
        fives.len(),
        start_rss as f64 / 1048576.0,
        watched.max_rss as f64 / 1048576.0,
        grew as f64 / 1048576.0,
        watched.samples,
        watched.unhealthy,
        watched.slowest_health_ms,
    );
    assert!(
        fives.is_empty(),
        "{} 5xx answers, first: {:?}",
        fives.len(),
        fives.first()
    );
    assert!(app.is_running());
    assert!(
        watched.samples >= 10,
        "watched only {} times",
        watched.samples
    );
    assert_eq!(watched.unhealthy, 0, "{watched:?}");
    assert!(
        grew < 64 << 20,
        "the server grew by {grew} bytes: {watched:?}"
    );
    let health = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("alive");
    assert!(health.status().is_success());
}

/// `count` requests to each of the server's routes (not server functions): a file's doors
/// with real, forged and hostile ids, doors and keys; the live feed with hostile cursors; the
/// health check, metrics, Companion's `/s3` routes, the page and made-up paths, with methods
/// and headers of an attacker's choice.
fn random_route_requests(
    app: &App,
    real: &str,
    count: usize,
    next: &mut impl FnMut() -> u64,
) -> Vec<(reqwest::Method, String, Option<(&'static str, String)>)> {
    let _ = app;
    let ids = [
        real,
        "00000000-0000-0000-0000-000000000000",
        "..",
        "%2e%2e%2f%2e%2e",
        "%00",
        "a%2Fb",
        "%E2%80%AE",
        "x",
    ];
    let doors = [
        "content",
        "download",
        "thumbnail",
        "poster",
        "..",
        "%00",
        "",
        "CONTENT",
    ];
    let keys = [
        "",
        "?key=",
        "?key=%00",
        "?key=..%2F",
        "?key=aaaaaaaa",
        "?key[]=1&key=2",
    ];
    let cursors = [
        "",
        "?after=-1",
        "?after=99999999999999999999",
        "?after=x",
        "?after=%00",
    ];
    let pages = [
        "/", "/files/", "/files", "/public", "/tokens", "/account", "/%00", "/..%2F..",
    ];
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::GET,
        reqwest::Method::HEAD,
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::OPTIONS,
    ];
    let headers: [(&str, &str); 6] = [
        ("last-event-id", "-5"),
        ("last-event-id", "18446744073709551617"),
        ("x-forwarded-for", "1.2.3.4, x"),
        ("range", "bytes=99999999999-"),
        ("authorization", "Bearer nope"),
        ("cookie", "hoist_session=forged.00"),
    ];
    // Companion's routes: real and forged upload ids, part numbers and echoed keys.
    let companion = [
        "",
        "/{id}",
        "/{id}/1",
        "/{id}/0",
        "/{id}/10001",
        "/{id}/-1",
        "/{id}/99999999999999999999",
        "/{id}/complete",
        "/{id}/batch",
    ];
    let mut pick = |n: usize| (next() % n as u64) as usize;
    let mut out = Vec::new();
    for route in 0..6 {
        for _ in 0..count {
            let path = match route {
                0 => format!(
                    "/files/{}/{}{}",
                    ids[pick(ids.len())],
                    doors[pick(doors.len())],
                    keys[pick(keys.len())]
                ),
                1 => format!("/events{}", cursors[pick(cursors.len())]),
                2 => "/healthz".to_string(),
                3 => "/metrics".to_string(),
                4 => format!(
                    "/s3/multipart{}{}",
                    companion[pick(companion.len())].replace("{id}", ids[pick(ids.len())]),
                    keys[pick(keys.len())]
                ),
                _ => pages[pick(pages.len())].to_string(),
            };
            let method = methods[pick(methods.len())].clone();
            let header = (pick(3) == 0).then(|| {
                let (name, value) = headers[pick(headers.len())];
                (name, value.to_string())
            });
            out.push((method, path, header));
        }
    }
    out
}
