//! `/api/v1/events` read off a raw socket: live frames with ids, and a
//! reconnect with `Last-Event-ID` that replays what came after.

use std::time::Duration;

use serde_json::json;
use weft_client::AcquireBody;

use crate::support::{EventStream, Frame, READ, TestServer, http, open_store, tokens};

const FRAME: Duration = Duration::from_secs(30);

/// The next frame that is not an alert (the alert loop may fire one at any
/// moment, as claims conflict in these tests).
fn next(stream: &mut EventStream) -> Frame {
    loop {
        let frame = stream.next(FRAME);
        if !frame.event.starts_with("alert") {
            return frame;
        }
    }
}

/// Frames up to and including one of kind `event`, alerts left out.
fn until(stream: &mut EventStream, event: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let frame = next(stream);
        let done = frame.event == event;
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

fn claim(resource: &str, holder: &str) -> AcquireBody {
    AcquireBody {
        resource: resource.to_owned(),
        wait_ms: Some(0),
        holder: json!({"repository": holder}),
        ..AcquireBody::default()
    }
}

#[test]
fn grants_and_releases_stream_live_and_replay_after_the_last_id() {
    let server = TestServer::start(|_| {});
    let client = server.client(None);
    let mut live = EventStream::open(server.address, None, None);

    let lease = client
        .acquire(&claim("lock:release-train", "alice"))
        .unwrap();
    let grant = next(&mut live);
    assert_eq!(grant.event, "grant", "{grant:?}");
    let grant_id = grant.id.expect("a grant frame has an id");
    assert_eq!(grant.data["id"], grant_id);
    assert_eq!(grant.data["kind"], "grant");
    assert_eq!(grant.data["resource"], "lock:release-train");
    assert_eq!(grant.data["data"]["lease"], lease.id.as_str());
    assert_eq!(grant.data["data"]["token"], lease.token);
    assert_eq!(grant.data["data"]["holder"]["repository"], "alice");

    client.release(&lease.id).unwrap();
    let release = next(&mut live);
    assert_eq!(release.event, "release", "{release:?}");
    let release_id = release.id.unwrap();
    assert!(release_id > grant_id);
    assert_eq!(release.data["data"]["lease"], lease.id.as_str());

    // A conflict is an event too.
    let bob = client.acquire(&claim("lock:release-train", "bob")).unwrap();
    let _ = client
        .acquire(&claim("lock:release-train", "carol"))
        .unwrap_err();
    client.release(&bob.id).unwrap();
    let frames = until(&mut live, "release");
    let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds, ["grant", "conflict", "release"]);
    let ids: Vec<i64> = frames.iter().map(|f| f.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids[0] > release_id);
    drop(live);

    // Reconnect after the first grant: everything after it, in order, then
    // the live stream.
    let mut replay = EventStream::open(server.address, Some(grant_id), None);
    let replayed: Vec<_> = (0..4).map(|_| next(&mut replay)).collect();
    let kinds: Vec<&str> = replayed.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds, ["release", "grant", "conflict", "release"]);
    assert_eq!(replayed[0].id, Some(release_id));
    assert_eq!(
        replayed[1..]
            .iter()
            .map(|f| f.id.unwrap())
            .collect::<Vec<_>>(),
        ids
    );
    let dave = client
        .acquire(&claim("lock:release-train", "dave"))
        .unwrap();
    let live_again = next(&mut replay);
    assert_eq!(live_again.event, "grant");
    assert_eq!(live_again.data["data"]["lease"], dave.id.as_str());
    assert!(live_again.id.unwrap() > *ids.last().unwrap());

    // `?since=` works the same, and a reconnect at the newest id replays
    // nothing.
    let newest = live_again.id.unwrap();
    let mut since = EventStream::open_path(
        server.address,
        &format!("/api/v1/events?since={release_id}"),
        None,
    );
    assert_eq!(next(&mut since).event, "grant");
    let mut caught_up = EventStream::open(server.address, Some(newest), None);
    client.release(&dave.id).unwrap();
    let frame = next(&mut caught_up);
    assert_eq!(frame.event, "release");
    assert_eq!(frame.data["data"]["lease"], dave.id.as_str());
    assert!(frame.id.unwrap() > newest);
}

#[test]
fn the_event_stream_needs_the_read_scope() {
    let server = TestServer::start(|settings| settings.tokens = tokens());
    let (status, body) = http(server.address, "GET", "/api/v1/events", &[], None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"unauthorized\""), "{body}");
    let mut stream = EventStream::open(server.address, Some(0), Some(READ));
    let client = server.client(Some(crate::support::WRITE));
    client.acquire(&claim("lock:x", "alice")).unwrap();
    assert_eq!(next(&mut stream).event, "grant");
}

#[test]
fn concurrent_writers_lose_no_live_event() {
    let server = TestServer::start(|_| {});
    let mut stream = EventStream::open(server.address, Some(0), None);
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let client = server.client(None);
            std::thread::spawn(move || {
                for round in 0..25 {
                    let lease = client
                        .acquire(&claim(&format!("lock:w{writer}-{}", round % 3), "writer"))
                        .unwrap();
                    client.release(&lease.id).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let client = server.client(None);
    let marker = client.acquire(&claim("lock:marker", "marker")).unwrap();
    let mut ids = Vec::new();
    loop {
        let frame = stream.next(FRAME);
        assert_ne!(frame.event, "lagged", "{frame:?}");
        ids.push(frame.id.unwrap());
        if frame.event == "grant" && frame.data["data"]["lease"] == marker.id.as_str() {
            break;
        }
    }
    let expected: Vec<i64> = (1..=*ids.last().unwrap()).collect();
    let missing: Vec<i64> = expected
        .iter()
        .filter(|id| !ids.contains(id))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "the live stream skipped events {missing:?} of {} (ids as received: {ids:?})",
        expected.len()
    );
    assert_eq!(ids, expected, "out of order or repeated");
}

/// Another process on the server's SQLite file (`weft lock` without
/// `--server`): what it writes reaches the stream, and its release wakes a
/// waiter of the server.
#[test]
fn writes_of_another_process_on_the_store_file_reach_the_stream() {
    let server = TestServer::start(|_| {});
    let mut live = EventStream::open(server.address, None, None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outside = runtime.block_on(async {
        let store = open_store(server.directory()).await;
        weft_store::Coordinator::start(
            store,
            weft_store::CoordinatorMode::Local,
            weft_store::AlertThresholds::default(),
        )
        .await
        .unwrap()
    });
    let held = runtime
        .block_on(outside.acquire(&weft_store::AcquireRequest {
            resource: weft_store::ResourceId::parse("lock:outside").unwrap(),
            weight: 1,
            ttl_ms: Some(600_000),
            ..weft_store::AcquireRequest::default()
        }))
        .unwrap();
    let grant = next(&mut live);
    assert_eq!(grant.event, "grant", "{grant:?}");
    assert_eq!(grant.data["resource"], "lock:outside");

    // A client of the server waits; the outside release lets it in. Its
    // wait is shorter than the waiters' own periodic look (2 s), so only
    // the tail's wake-up can grant it.
    let client = server.client(None);
    let waiter = std::thread::spawn(move || {
        client.acquire(&AcquireBody {
            wait_ms: Some(1_500),
            ..claim("lock:outside", "bob")
        })
    });
    let queued = until(&mut live, "queued");
    assert_eq!(queued.last().unwrap().data["resource"], "lock:outside");
    runtime.block_on(outside.release(&held.id)).unwrap();
    let frames = until(&mut live, "grant");
    assert_eq!(frames[0].event, "release", "{frames:?}");
    let lease = waiter.join().unwrap().expect("the waiter is granted");
    assert_eq!(lease.token, 2);
}

/// Polls `/api/v1/health/detailed` until the server holds the workspace's
/// model, answering its `model` section.
fn held_model(server: &TestServer) -> serde_json::Value {
    crate::support::eventually("the server to hold the model", FRAME, || {
        let (status, body) = http(server.address, "GET", "/api/v1/health/detailed", &[], None);
        assert_eq!(status, 200, "{body}");
        let detailed: serde_json::Value = serde_json::from_str(&body).unwrap();
        (detailed["model"]["watching"] == true).then(|| detailed["model"].clone())
    })
}

#[test]
fn a_saved_file_streams_a_model_event_and_the_analysis_answers_from_the_new_model() {
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path().to_path_buf();
    // Files are written whole and renamed into place, as editors save.
    let write = |relative: &str, text: &str| {
        let path = root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        let temporary = path.with_extension("weft-test-tmp");
        fs_err::write(&temporary, text).unwrap();
        fs_err::rename(&temporary, path).unwrap();
    };
    write(
        "api/compose.yaml",
        "services:\n  api:\n    image: api\n    ports: [\"8080:80\"]\n",
    );
    let served = root.clone();
    let server = TestServer::start(move |settings| settings.workspace = served);
    let held = held_model(&server);
    assert_eq!(held["services"], 1, "{held}");
    assert_eq!(held["conflicts"], 0);
    let mut live = EventStream::open(server.address, None, None);

    // Another repository publishing the same port.
    write(
        "web/compose.yaml",
        "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n",
    );
    let frame = until(&mut live, "model").pop().unwrap();
    assert_eq!(frame.id, None, "model events are not stored: {frame:?}");
    let data = &frame.data;
    // The file, and the new directory when its event came in the same batch.
    let paths = data["paths"].as_array().unwrap();
    assert!(paths.contains(&json!("web/compose.yaml")), "{data}");
    assert_eq!(data["reread"], json!(["web"]));
    assert_eq!(data["changes"]["services"]["added"], json!(["web/web"]));
    let added = data["changes"]["conflicts"]["added"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{data}");
    assert_eq!(
        (data["services"].clone(), data["conflicts"].clone()),
        (json!(2), json!(1))
    );

    // The analysis routes answer from the model the server now holds.
    let conflicts = || {
        http(
            server.address,
            "GET",
            "/api/v1/analysis/conflicts",
            &[],
            None,
        )
    };
    let (status, body) = conflicts();
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["conflicts"][0]["id"], added[0]["id"]);

    // A weft.yaml that no longer reads: an error event, and reads go to the
    // files again, which answer the error, until it reads again.
    write("weft.yaml", "repositories: [unclosed\n");
    let frame = until(&mut live, "model").pop().unwrap();
    assert!(
        frame.data["error"].as_str().unwrap().contains("weft.yaml"),
        "{frame:?}"
    );
    let (status, body) = conflicts();
    assert_eq!(status, 422, "{body}");
    // Mended, it is held again (the same services: no event to send).
    write("weft.yaml", "name: mended\n");
    assert_eq!(held_model(&server)["services"], 2);
}
