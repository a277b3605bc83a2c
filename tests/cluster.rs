//! Beyond one machine: two `hoist` instances on one PostgreSQL database and a three-node
//! Garage cluster (every object on all three nodes), each instance serving any request. An
//! upload is started on one, signed on the other, completed on the first; one instance is
//! killed mid-upload and the upload finishes through the other; one Garage node is killed
//! mid-upload and the upload finishes, every object still readable.

mod common;

use common::{
    app::{by_id, form, free_port, App},
    bytes,
    events::Events,
    send, store_client,
};
use hoist::{
    checksum::{self, ChecksumAlgorithm},
    db::testing,
    model::{SignedPart, StartedUpload},
};
use std::{path::PathBuf, process::Command};

const MIB: u64 = 1 << 20;

/// `scripts/local-s3.sh` with three nodes, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    /// `HOIST_S3_*` and `AWS_*` for the cluster (node 1's S3 endpoint).
    settings: Vec<(String, String)>,
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .arg(free_port().to_string())
            .arg("3")
            .status()
            .expect("scripts/local-s3.sh runs");
        assert!(status.success(), "the Garage cluster did not start");
        let env = std::fs::read_to_string(dir.path().join("s3.env")).expect("s3.env");
        let settings = env
            .lines()
            .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { dir, settings }
    }

    /// SIGKILL to node `k`: a machine lost, no goodbye to the others.
    fn kill_node(&self, k: u32) {
        let pid_file = self.dir.path().join(format!("node{k}/garage.pid"));
        let pid = std::fs::read_to_string(pid_file).expect("the node's pid");
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success(), "node {k} was not running");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/local-s3.sh")
}

/// Two instances on `database_url` and the cluster, sharing the secret that signs cookies, so
/// that a browser's session is good on both.
async fn two_instances(cluster: &Cluster, database_url: &str) -> [App; 2] {
    let secret = uuid::Uuid::new_v4().simple().to_string().repeat(2);
    let mut settings: Vec<(&str, &str)> = cluster
        .settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    settings.push(("HOIST_SESSION_SECRET", &secret));
    let mut apps = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().expect("temp dir");
        apps.push(App::start_in(dir, database_url.to_owned(), &settings).await);
    }
    apps.try_into().unwrap_or_else(|_| unreachable!())
}

/// One upload driven by hand, so that each call can go to the instance the test picks.
struct Upload {
    started: StartedUpload,
    data: Vec<u8>,
}

impl Upload {
    async fn start(app: &App, client: &reqwest::Client, name: &str, data: Vec<u8>) -> Self {
        let size = data.len().to_string();
        let answer = app
            .call(
                client,
                "start_upload",
                &form(&[
                    ("name", name),
                    ("size", &size),
                    ("content_type", "application/octet-stream"),
                ]),
            )
            .await;
        assert_eq!(answer.status, 200, "start on {}: {answer:?}", app.base);
        Self {
            started: answer.json(),
            data,
        }
    }

    fn id(&self) -> &str {
        &self.started.upload_id
    }

    fn part(&self, n: u32) -> &[u8] {
        let (a, b) = self.started.plan.range(n).expect("a part");
        &self.data[a as usize..b as usize]
    }

    fn parts(&self) -> Vec<u32> {
        (1..=self.started.plan.part_count()).collect()
    }

    async fn sign(&self, app: &App, client: &reqwest::Client, parts: &[u32]) -> Vec<SignedPart> {
        let mut pairs = vec![("upload_id".to_owned(), self.id().to_owned())];
        for (i, n) in parts.iter().enumerate() {
            let sum = checksum::of(ChecksumAlgorithm::Crc32c, self.part(*n));
            pairs.push((format!("parts[{i}][part_number]"), n.to_string()));
            pairs.push((format!("parts[{i}][checksum]"), sum));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
        let answer = app.call(client, "sign_parts", &form(&pairs)).await;
        assert_eq!(answer.status, 200, "sign on {}: {answer:?}", app.base);
        answer.json()
    }

    /// PUTs each signed part straight to the store, as the browser does.
    async fn put(&self, signed: &[SignedPart]) {
        let store = store_client();
        for part in signed {
            let answer = send(&store, &part.request, self.part(part.part_number).to_vec()).await;
            assert!(
                answer.status().is_success(),
                "part {} of {}: {}",
                part.part_number,
                self.id(),
                answer.status()
            );
        }
    }

    async fn complete(&self, app: &App, client: &reqwest::Client) {
        let done = by_id(app, client, "complete_upload", self.id()).await;
        assert_eq!(done.status, 200, "complete on {}: {done:?}", app.base);
    }
}

/// An upload of 17 MiB started on `app`, its first two parts signed there and sent.
async fn half_sent(app: &App, client: &reqwest::Client, name: &str, seed: u64) -> Upload {
    let upload = Upload::start(app, client, name, bytes(17 * MIB, seed)).await;
    let parts = upload.parts();
    upload
        .put(&upload.sign(app, client, &parts[..2]).await)
        .await;
    upload
}

/// The rest of a [`half_sent`] upload, signed and completed through `app`.
async fn finish(upload: Upload, app: &App, client: &reqwest::Client) -> (String, Vec<u8>) {
    let parts = upload.parts();
    upload
        .put(&upload.sign(app, client, &parts[2..]).await)
        .await;
    upload.complete(app, client).await;
    (upload.id().to_owned(), upload.data)
}

/// The file's bytes as its owner downloads them (through `app`, from the store).
async fn download(app: &App, client: &reqwest::Client, id: &str) -> Vec<u8> {
    let response = client
        .get(format!("{}/files/{id}/download", app.base))
        .send()
        .await
        .expect("download answers");
    assert!(
        response.status().is_success(),
        "{id}: {}",
        response.status()
    );
    response.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn two_instances_on_postgresql_and_three_garage_nodes_survive_losing_one_of_each() {
    let cluster = Cluster::start();
    let server = testing::required_postgres_server();
    let name = format!("hoist_cluster_{}", uuid::Uuid::new_v4().simple());
    let database_url = testing::create_postgres_database(&server, &name).await;
    let [mut a, b] = two_instances(&cluster, &database_url).await;
    let client = a.browser();
    // The session cookie comes from A; B must know it (the same guest on both).
    let me_on_a = a.whoami(&client).await;
    assert_eq!(b.whoami(&client).await, me_on_a, "one session on both");
    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();

    // Started on one, signed part by part on alternating instances, completed on the first;
    // each completion is seen live on the *other* instance's event stream.
    let mut live_on_b = Events::open(&b, &client, None).await;
    let mut live_on_a = Events::open(&a, &client, None).await;
    for round in 0..4u64 {
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let upload = Upload::start(
            first,
            &client,
            &format!("round-{round}.bin"),
            bytes(12 * MIB + round, round),
        )
        .await;
        for n in upload.parts() {
            let by = if n % 2 == 0 { first } else { second };
            upload.put(&upload.sign(by, &client, &[n]).await).await;
        }
        upload.complete(first, &client).await;
        let live = if round % 2 == 0 {
            &mut live_on_b
        } else {
            &mut live_on_a
        };
        live.until_ready(upload.id()).await;
        stored.push((upload.id().to_owned(), upload.data));
    }

    // Instance A is lost mid-upload: the page goes on through B.
    let upload = half_sent(&a, &client, "instance-lost.bin", 7).await;
    a.kill();
    stored.push(finish(upload, &b, &client).await);

    // A Garage node is lost mid-upload: the other two hold every object (quorum 2 of 3).
    let upload = half_sent(&b, &client, "node-lost.bin", 8).await;
    cluster.kill_node(3);
    stored.push(finish(upload, &b, &client).await);

    for (id, data) in &stored {
        let read = download(&b, &client, id).await;
        assert!(read == *data, "{id} reads back different bytes");
    }
    println!(
        "cluster: {} uploads across two instances, one instance and one Garage node killed \
         mid-upload, every object read back whole with a node down",
        stored.len()
    );
}
