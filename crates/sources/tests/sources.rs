//! Every source against its mock server, one fault at a time, on a paused clock: reconnect
//! delays are checked against the guidance from the times the mock saw each attempt, and every
//! line emitted must decode, each post exactly once.

use std::time::Duration;
use streamer_model::Event;
use streamer_sources::jetstream::JetstreamConfig;
use streamer_sources::mastodon::{MastodonConfig, Stream};
use streamer_sources::mock::*;
use streamer_sources::x::{XConfig, XRuleSpec};
use streamer_sources::{spawn, Emitter, Item, SourceLine, SourceSpec, StatusHandle};
use streamer_wire::{Decoder, DecoderOptions, Format};
use tokio::sync::mpsc;
use tokio::time::Instant;

const TOKEN: &str = "test-token";

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A source running against a mock, with its output channel.
struct Running {
    rx: mpsc::Receiver<SourceLine>,
    status: StatusHandle,
    task: tokio::task::JoinHandle<()>,
}

fn start(spec: SourceSpec, name: &str) -> Running {
    let (tx, rx) = mpsc::channel(64);
    let status = StatusHandle::new(name);
    let task = spawn(spec, Emitter::new(0, tx), status.clone());
    Running { rx, status, task }
}

impl Running {
    /// The next `n` items (the paused clock jumps over the sources' sleeps).
    async fn take(&mut self, n: usize) -> Vec<Item> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(7200), self.rx.recv()).await {
                Ok(Some(l)) => out.push(l.item),
                Ok(None) => panic!("source ended after {out:?}"),
                Err(_) => panic!(
                    "timed out after {out:?}: {:?}",
                    self.status.snapshot().last_error
                ),
            }
        }
        out
    }

    /// Nothing more arrives within `d`.
    async fn quiet_for(&mut self, d: Duration) {
        if let Ok(Some(l)) = tokio::time::timeout(d, self.rx.recv()).await {
            panic!("unexpected {:?}", l.item)
        }
    }
}

fn text(item: &Item) -> String {
    match item {
        Item::Line(l) => String::from_utf8_lossy(l).into_owned(),
        Item::Oversized(n) => format!("<oversized {n}>"),
    }
}

/// Decodes lines as the pipeline would and returns the created posts' ids in order.
fn post_ids(items: &[Item], format: Format, instance: Option<&str>) -> Vec<String> {
    let mut d = Decoder::new(
        format,
        DecoderOptions {
            mastodon_instance: instance.map(str::to_string),
            ..DecoderOptions::default()
        },
    );
    let mut ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Item::Line(l) = item {
            if let Ok(Some(dec)) = d.feed(l, i as u64 + 1) {
                if let Event::Create(p) = dec.event {
                    ids.push(p.id.clone());
                }
            }
        }
    }
    ids
}

fn gap(a: Instant, b: Instant) -> Duration {
    b.duration_since(a)
}

fn assert_between(d: Duration, lo: f64, hi: f64, what: &str) {
    assert!(
        d >= secs(lo) && d <= secs(hi),
        "{what}: {d:?} not within [{lo}, {hi}] s"
    );
}

fn x_cfg(mock: &XMock) -> XConfig {
    XConfig::new(
        &mock.base_url(),
        TOKEN,
        vec![XRuleSpec {
            value: "lockbit".into(),
            tag: "streamer:r1".into(),
        }],
    )
}

mod x {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rules_sync_adds_deletes_stale_reports_rejected_and_never_touches_others() {
        let mock = XMock::start(TOKEN).await;
        mock.add_rule("someone else's rule", Some("other:1"));
        mock.add_rule("untagged rule", None);
        mock.add_rule("old streamer rule", Some("streamer:gone"));
        mock.add_rule("kept", Some("streamer:keep"));
        let mut cfg = x_cfg(&mock);
        cfg.rules = vec![
            XRuleSpec {
                value: "kept".into(),
                tag: "streamer:keep".into(),
            },
            XRuleSpec {
                value: "ransomware county".into(),
                tag: "streamer:new".into(),
            },
            XRuleSpec {
                value: "INVALID:op".into(),
                tag: "streamer:bad".into(),
            },
        ];
        mock.push(Conn::Stream(vec![Step::Send(x_post("1", "hello"))]));
        let mut src = start(SourceSpec::X(cfg), "x");
        let got = src.take(1).await;
        assert_eq!(post_ids(&got, Format::X, None), ["1"]);
        let mut values: Vec<String> = mock.rules().into_iter().map(|r| r.value).collect();
        values.sort();
        assert_eq!(
            values,
            [
                "kept",
                "ransomware county",
                "someone else's rule",
                "untagged rule"
            ]
        );
        let hits = mock.hits();
        let posts: Vec<&Hit> = hits.iter().filter(|h| h.method == "POST").collect();
        assert_eq!(posts.len(), 3, "{posts:?}");
        assert!(posts[0].body.contains("delete"));
        assert!(posts[1].target.contains("dry_run=true"));
        assert!(!posts[2].target.contains("dry_run") && !posts[2].body.contains("INVALID"));
        let notes = src.status.snapshot().notes;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("streamer:bad") && notes[0].contains("InvalidRule"));
        // The stream asks for everything the Post model needs.
        let stream = &mock.stream_hits()[0].target;
        assert!(
            stream.contains("expansions=author_id,geo.place_id"),
            "{stream}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reloaded_rule_set_is_synced_while_the_stream_stays_up() {
        let mock = XMock::start(TOKEN).await;
        mock.add_rule("someone else's rule", Some("other:1"));
        let (tx, rx) = tokio::sync::watch::channel(Vec::new());
        let mut cfg = x_cfg(&mock);
        cfg.rule_updates = Some(rx);
        mock.push(Conn::Stream(vec![Step::Send(x_post("1", "hello"))]));
        let mut src = start(SourceSpec::X(cfg), "x");
        assert_eq!(post_ids(&src.take(1).await, Format::X, None), ["1"]);
        let values = |m: &XMock| {
            let mut v: Vec<(String, Option<String>)> =
                m.rules().into_iter().map(|r| (r.value, r.tag)).collect();
            v.sort();
            v
        };
        assert_eq!(
            values(&mock),
            [
                ("lockbit".to_string(), Some("streamer:r1".to_string())),
                ("someone else's rule".into(), Some("other:1".into())),
            ]
        );
        // A reload: r1 is gone, r2 is new.
        tx.send(vec![XRuleSpec {
            value: "ransomware county".into(),
            tag: "streamer:r2".into(),
        }])
        .unwrap();
        for _ in 0..200 {
            if values(&mock).iter().any(|(v, _)| v == "ransomware county") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            values(&mock),
            [
                (
                    "ransomware county".to_string(),
                    Some("streamer:r2".to_string())
                ),
                ("someone else's rule".into(), Some("other:1".into())),
            ]
        );
        assert_eq!(
            mock.stream_hits().len(),
            1,
            "the stream was not reconnected"
        );
        drop(src);
    }

    #[tokio::test(start_paused = true)]
    async fn mid_line_disconnect_and_duplicate_delivery_yield_each_post_once() {
        let mock = XMock::start(TOKEN).await;
        let p2 = x_post("2", "second");
        mock.push(Conn::Stream(vec![
            Step::Send(x_post("1", "first")),
            Step::Raw(p2.as_bytes()[..20].to_vec()),
            Step::Drop,
        ]));
        mock.push(Conn::Stream(vec![
            Step::Send(p2.clone()),
            Step::Send(p2.clone()),
            Step::Heartbeat,
            Step::Send(x_post("3", "third")),
        ]));
        let mut src = start(SourceSpec::X(x_cfg(&mock)), "x");
        let got = src.take(3).await;
        assert_eq!(post_ids(&got, Format::X, None), ["1", "2", "3"]);
        src.quiet_for(secs(60.0)).await;
        let s = src.status.snapshot();
        assert_eq!((s.duplicates, s.posts, s.reconnects), (1, 3, 1));
        assert!(s.connected);
        let hits = mock.stream_hits();
        assert_eq!(hits.len(), 2);
        // A connection that dropped at once is a network error: 250 ms.
        assert_between(
            gap(hits[0].at, hits[1].at),
            0.25,
            0.3,
            "reconnect after a broken line",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_keep_the_stream_alive_and_a_stall_reconnects() {
        let mock = XMock::start(TOKEN).await;
        mock.push(Conn::Stream(vec![
            Step::Heartbeat,
            Step::Pause(secs(20.0)),
            Step::Heartbeat,
            Step::Pause(secs(20.0)),
            Step::Send(x_post("1", "one")),
            Step::Stall,
        ]));
        mock.push(Conn::Stream(vec![Step::Send(x_post("2", "two"))]));
        let mut src = start(SourceSpec::X(x_cfg(&mock)), "x");
        let got = src.take(2).await;
        assert_eq!(post_ids(&got, Format::X, None), ["1", "2"]);
        let hits = mock.stream_hits();
        assert_eq!(hits.len(), 2);
        // 40 s of heartbeats, then 30 s of silence; a healthy connection reconnects at once.
        assert_between(gap(hits[0].at, hits[1].at), 70.0, 70.1, "stall detection");
        assert!(src
            .status
            .snapshot()
            .last_error
            .unwrap()
            .contains("stalled"));
    }

    #[tokio::test(start_paused = true)]
    async fn http_errors_back_off_exponentially_and_429_waits_for_the_reset() {
        let mock = XMock::start(TOKEN).await;
        let reset = jiff::Timestamp::now().as_second() + 120;
        mock.push(Conn::Respond {
            status: 429,
            headers: vec![("x-rate-limit-reset".into(), reset.to_string())],
            body: r#"{"title":"ConnectionException","connection_issue":"TooManyConnections"}"#
                .into(),
        });
        mock.push(Conn::status(
            429,
            r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#,
        ));
        mock.push(Conn::status(503, r#"{"title":"Service Unavailable"}"#));
        mock.push(Conn::status(503, r#"{"title":"Service Unavailable"}"#));
        mock.push(Conn::Stream(vec![Step::Send(x_post("1", "finally"))]));
        let mut src = start(SourceSpec::X(x_cfg(&mock)), "x");
        let got = src.take(1).await;
        assert_eq!(post_ids(&got, Format::X, None), ["1"]);
        let h: Vec<Instant> = mock.stream_hits().iter().map(|h| h.at).collect();
        assert_eq!(h.len(), 5);
        assert_between(
            gap(h[0], h[1]),
            118.0,
            121.0,
            "429 honours x-rate-limit-reset over 60 s",
        );
        assert_between(gap(h[1], h[2]), 120.0, 120.1, "second 429 doubles to 120 s");
        assert_between(gap(h[2], h[3]), 5.0, 5.1, "first 503: 5 s");
        assert_between(gap(h[3], h[4]), 10.0, 10.1, "second 503: 10 s");
        assert!(src.status.snapshot().connected);
    }

    #[tokio::test(start_paused = true)]
    async fn operational_disconnect_is_passed_on_and_reconnects_at_once() {
        let mock = XMock::start(TOKEN).await;
        mock.push(Conn::Stream(vec![
            Step::Send(x_post("1", "one")),
            Step::Pause(secs(25.0)),
            Step::Heartbeat,
            Step::Send(X_OPERATIONAL_DISCONNECT.into()),
            Step::Close,
        ]));
        mock.push(Conn::Stream(vec![Step::Send(x_post("2", "two"))]));
        let mut src = start(SourceSpec::X(x_cfg(&mock)), "x");
        let got = src.take(3).await;
        assert_eq!(post_ids(&got, Format::X, None), ["1", "2"]);
        assert!(text(&got[1]).contains("operational-disconnect"));
        let mut d = Decoder::new(Format::X, DecoderOptions::default());
        let Item::Line(l) = &got[1] else { panic!() };
        assert!(matches!(
            d.feed(l, 1).unwrap().unwrap().event,
            Event::Notice(_)
        ));
        let h = mock.stream_hits();
        assert_between(gap(h[0].at, h[1].at), 25.0, 25.05, "immediate reconnect");
        let s = src.status.snapshot();
        assert!(s
            .last_error
            .unwrap()
            .contains("UpstreamOperationalDisconnect"));
    }

    #[tokio::test(start_paused = true)]
    async fn malformed_oversized_and_dripping_lines() {
        let mock = XMock::start(TOKEN).await;
        let big = format!(
            "{{\"data\":{{\"id\":\"9\",\"text\":\"{}\"}}}}",
            "x".repeat(5000)
        );
        mock.push(Conn::Stream(vec![
            Step::Send("this is not json {".into()),
            Step::Send(big),
            Step::Drip(
                format!("{}\r\n", x_post("1", "slow")).into_bytes(),
                secs(0.1),
            ),
            Step::Send(x_post("2", "fast")),
        ]));
        let mut cfg = x_cfg(&mock);
        cfg.max_line_bytes = 4096;
        let mut src = start(SourceSpec::X(cfg), "x");
        let got = src.take(4).await;
        assert_eq!(text(&got[0]), "this is not json {");
        // The length counts the line up to its `\n`, its `\r` included.
        assert_eq!(got[1], Item::Oversized(5030));
        assert_eq!(post_ids(&got, Format::X, None), ["1", "2"]);
        let s = src.status.snapshot();
        assert_eq!(
            (s.malformed, s.oversized, s.posts, s.reconnects),
            (1, 1, 2, 0)
        );
        assert_eq!(
            mock.stream_hits().len(),
            1,
            "dripping bytes are not a stall"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refused_credentials_stop_only_this_source() {
        let mock = XMock::start("the-right-token").await;
        let jet = JetstreamMock::start().await;
        jet.push(Conn::Stream(vec![
            Step::Pause(secs(5.0)),
            Step::Send(jetstream_post("did:plc:a", "r1", 1_000_000, "still here")),
        ]));
        let x = start(SourceSpec::X(x_cfg(&mock)), "x");
        let mut bsky = start(
            SourceSpec::Jetstream(JetstreamConfig::new(&jet.url())),
            "bluesky",
        );
        tokio::time::timeout(secs(3600.0), x.task)
            .await
            .unwrap()
            .unwrap();
        let s = x.status.snapshot();
        assert!(s.stopped && !s.connected);
        assert!(s.last_error.unwrap().contains("401"));
        assert_eq!(mock.hits().len(), 1, "no retry after 401");
        let got = bsky.take(1).await;
        assert_eq!(post_ids(&got, Format::Bluesky, None).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn forbidden_stream_stops_after_rules_sync() {
        let mock = XMock::start(TOKEN).await;
        mock.push(Conn::status(
            403,
            r#"{"title":"Forbidden","type":"https://api.x.com/2/problems/client-forbidden"}"#,
        ));
        let mut cfg = x_cfg(&mock);
        cfg.backfill_minutes = Some(2);
        let src = start(SourceSpec::X(cfg), "x");
        tokio::time::timeout(secs(3600.0), src.task)
            .await
            .unwrap()
            .unwrap();
        assert!(src.status.snapshot().stopped);
        let h = mock.stream_hits();
        assert_eq!(h.len(), 1);
        assert!(h[0].target.contains("backfill_minutes=2"));
    }
}

mod jetstream {
    use super::*;

    const T: i64 = 1_767_225_600_000_000;

    #[tokio::test(start_paused = true)]
    async fn reconnect_rewinds_the_cursor_and_drops_what_was_seen() {
        let mock = JetstreamMock::start().await;
        let ev: Vec<String> = [0, 1, 2, 10, 11]
            .iter()
            .enumerate()
            .map(|(i, s)| jetstream_post("did:plc:a", &format!("k{i}"), T + s * 1_000_000, "post"))
            .collect();
        for e in &ev {
            mock.store(e);
        }
        mock.push(Conn::Stream(
            ev[..3]
                .iter()
                .cloned()
                .map(Step::Send)
                .collect::<Vec<_>>()
                .into_iter()
                .chain([Step::Drop])
                .collect(),
        ));
        let mut src = start(
            SourceSpec::Jetstream(JetstreamConfig::new(&mock.url())),
            "bluesky",
        );
        let got = src.take(5).await;
        let ids = post_ids(&got, Format::Bluesky, None);
        let want: Vec<String> = (0..5)
            .map(|i| format!("at://did:plc:a/app.bsky.feed.post/k{i}"))
            .collect();
        assert_eq!(ids, want);
        src.quiet_for(secs(30.0)).await;
        let s = src.status.snapshot();
        assert_eq!((s.duplicates, s.posts, s.reconnects), (3, 5, 1));
        let h = mock.hits();
        assert_eq!(h.len(), 2);
        assert!(!h[0].target.contains("cursor="));
        assert!(h[1].target.contains("wantedCollections=app.bsky.feed.post"));
        assert!(
            h[1].target
                .contains(&format!("cursor={}", T + 2_000_000 - 5_000_000)),
            "{}",
            h[1].target
        );
        assert_between(
            gap(h[0].at, h[1].at),
            1.0,
            1.05,
            "first reconnect after a quick drop: 1 s",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stored_cursor_resumes_and_watched_dids_filter_posts_but_not_identity() {
        let mock = JetstreamMock::start().await;
        mock.store(&jetstream_post(
            "did:plc:other",
            "o1",
            T + 1_000_000,
            "not watched",
        ));
        mock.store(&jetstream_post(
            "did:plc:watched",
            "w1",
            T + 2_000_000,
            "watched",
        ));
        mock.store(&jetstream_identity(
            "did:plc:other",
            "new.example.com",
            T + 3_000_000,
        ));
        mock.store(&jetstream_post(
            "did:plc:watched",
            "w0",
            T - 60_000_000,
            "before cursor",
        ));
        let mut cfg = JetstreamConfig::new(&mock.url());
        cfg.wanted_dids = vec!["did:plc:watched".into()];
        cfg.cursor = Some(T + 5_000_000);
        let mut src = start(SourceSpec::Jetstream(cfg), "bluesky");
        let got = src.take(2).await;
        assert_eq!(
            post_ids(&got, Format::Bluesky, None),
            ["at://did:plc:watched/app.bsky.feed.post/w1"]
        );
        assert!(text(&got[1]).contains("identity"));
        let h = &mock.hits()[0].target;
        assert!(
            h.contains("wantedDids=did:plc:watched") && h.contains(&format!("cursor={T}")),
            "{h}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pings_keep_it_alive_stalls_and_errors_reconnect_oversized_and_malformed_skip() {
        let mock = JetstreamMock::start().await;
        mock.push(Conn::status(503, "busy"));
        mock.push(Conn::Stream(vec![
            Step::Heartbeat,
            Step::Pause(secs(50.0)),
            Step::Heartbeat,
            Step::Pause(secs(50.0)),
            Step::Send("x".repeat(3000)),
            Step::Send("{not json".into()),
            Step::Send(jetstream_post("did:plc:a", "k1", T, "one")),
            Step::Stall,
        ]));
        mock.push(Conn::Stream(vec![Step::Send(jetstream_post(
            "did:plc:a",
            "k2",
            T + 1,
            "two",
        ))]));
        let mut cfg = JetstreamConfig::new(&mock.url());
        cfg.max_line_bytes = 2000;
        let mut src = start(SourceSpec::Jetstream(cfg), "bluesky");
        let got = src.take(4).await;
        assert_eq!(got[0], Item::Oversized(3000));
        assert_eq!(text(&got[1]), "{not json");
        assert_eq!(post_ids(&got, Format::Bluesky, None).len(), 2);
        let h = mock.hits();
        assert_eq!(h.len(), 3);
        assert_between(gap(h[0].at, h[1].at), 1.0, 1.05, "503: 1 s");
        assert_between(
            gap(h[1].at, h[2].at),
            160.0,
            160.1,
            "100 s of pings, then a 60 s stall",
        );
        let s = src.status.snapshot();
        assert_eq!((s.oversized, s.malformed, s.posts), (1, 1, 2));
    }
}

mod mastodon {
    use super::*;

    fn cfg(mock: &MastodonMock, stream: &str) -> MastodonConfig {
        let mut c = MastodonConfig::new(&mock.base_url(), Stream::parse(stream).unwrap());
        c.access_token = Some(TOKEN.into());
        c
    }

    fn store(mock: &MastodonMock, ids: std::ops::RangeInclusive<u32>) {
        for i in ids {
            mock.store(
                &i.to_string(),
                &mastodon_status(&i.to_string(), &format!("post {i}")),
            );
        }
    }

    fn update(i: u32) -> Step {
        Step::Event {
            event: "update".into(),
            payload: mastodon_status(&i.to_string(), &format!("post {i}")),
        }
    }

    fn uris(ids: std::ops::RangeInclusive<u32>) -> Vec<String> {
        ids.map(|i| format!("https://mock.example/users/alice/statuses/{i}"))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn websocket_gap_fill_after_a_drop_loses_nothing_and_repeats_nothing() {
        let mock = MastodonMock::start(Some(TOKEN)).await;
        store(&mock, 101..=110);
        mock.push(Conn::Stream(vec![
            update(101),
            update(102),
            update(103),
            Step::Drop,
        ]));
        mock.push(Conn::Stream(vec![update(103), update(108)]));
        let mut src = start(SourceSpec::Mastodon(cfg(&mock, "public")), "mastodon");
        let got = src.take(10).await;
        assert_eq!(
            post_ids(&got, Format::Mastodon, Some("127.0.0.1")),
            uris(101..=110)
        );
        src.quiet_for(secs(60.0)).await;
        let s = src.status.snapshot();
        assert_eq!(
            (s.duplicates, s.gap_filled, s.resume.as_deref()),
            (2, 7, Some("110"))
        );
        let streams = mock.stream_hits();
        assert!(streams
            .iter()
            .all(|h| h.websocket && h.target == "/api/v1/streaming?stream=public"));
        assert_between(
            gap(streams[0].at, streams[1].at),
            1.0,
            1.05,
            "quick drop: 1 s",
        );
        let timelines: Vec<String> = mock
            .hits()
            .into_iter()
            .filter(|h| h.target.starts_with("/api/v1/timelines/"))
            .map(|h| h.target)
            .collect();
        assert_eq!(
            timelines,
            [
                "/api/v1/timelines/public?min_id=103&limit=40",
                "/api/v1/timelines/public?min_id=110&limit=40"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sse_fallback_with_thump_and_a_stall_then_resume_id_gap_fill() {
        let mock = MastodonMock::start(Some(TOKEN)).await;
        mock.disable_websocket();
        store(&mock, 201..=203);
        mock.push(Conn::Stream(vec![
            Step::Raw(b":thump\n".to_vec()),
            Step::Event {
                event: "delete".into(),
                payload: "200".into(),
            },
            update(204),
            Step::Pause(secs(30.0)),
            Step::Heartbeat,
            Step::Stall,
        ]));
        mock.push(Conn::Stream(vec![update(205)]));
        store(&mock, 204..=204);
        let mut c = cfg(&mock, "hashtag:ransomware");
        c.resume_id = Some("200".into());
        let mut src = start(SourceSpec::Mastodon(c), "mastodon");
        let got = src.take(6).await;
        let ids = post_ids(&got, Format::Mastodon, Some("127.0.0.1"));
        assert_eq!(ids, uris(201..=205));
        assert!(got
            .iter()
            .any(|i| text(i).contains(r#""event":"delete","payload":"200""#)));
        assert!(text(&got[0]).starts_with(r#"{"stream":["hashtag","ransomware"],"event":"update""#));
        let streams = mock.stream_hits();
        let sse: Vec<&Hit> = streams.iter().filter(|h| !h.websocket).collect();
        assert_eq!(sse.len(), 2);
        assert_eq!(sse[0].target, "/api/v1/streaming/hashtag?tag=ransomware");
        // 30 s, a :thump, then 45 s of silence: stalled; a healthy connection reconnects at once.
        assert_between(gap(sse[0].at, sse[1].at), 75.0, 75.1, "SSE stall");
        let timelines: Vec<String> = mock
            .hits()
            .into_iter()
            .filter(|h| h.target.starts_with("/api/v1/timelines/"))
            .map(|h| h.target)
            .collect();
        assert_eq!(
            timelines[0],
            "/api/v1/timelines/tag/ransomware?min_id=200&limit=40"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_token_stops_the_stream() {
        let mock = MastodonMock::start(Some("another-token")).await;
        let src = start(SourceSpec::Mastodon(cfg(&mock, "public:local")), "mastodon");
        tokio::time::timeout(secs(3600.0), src.task)
            .await
            .unwrap()
            .unwrap();
        let s = src.status.snapshot();
        assert!(s.stopped);
        assert!(s.last_error.unwrap().contains("401"));
        assert_eq!(mock.stream_hits().len(), 1);
    }
}

mod jetstream_zstd {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn compressed_frames_are_decompressed_with_the_dictionary() {
        // A raw-content dictionary: any bytes serve; Bluesky publishes the real one.
        let dict = jetstream_post("did:plc:dict", "dict", 0, "dictionary sample text").into_bytes();
        let mock = JetstreamMock::start().await;
        mock.set_zstd_dictionary(&dict);
        mock.push(Conn::Stream(vec![
            Step::Send(jetstream_post("did:plc:a", "z1", 1, "compressed one")),
            Step::Send(format!("{{\"pad\":\"{}\"}}", "y".repeat(5000))),
            Step::Send(jetstream_post("did:plc:a", "z2", 2, "compressed two")),
        ]));
        let mut cfg = JetstreamConfig::new(&mock.url());
        cfg.zstd_dictionary = Some(Arc::new(dict));
        cfg.max_line_bytes = 4000;
        let mut src = start(SourceSpec::Jetstream(cfg), "bluesky");
        let got = src.take(3).await;
        assert_eq!(got[1], Item::Oversized(5010));
        assert_eq!(
            post_ids(&got, Format::Bluesky, None),
            [
                "at://did:plc:a/app.bsky.feed.post/z1",
                "at://did:plc:a/app.bsky.feed.post/z2"
            ]
        );
        assert!(mock.hits()[0].target.contains("&compress=true"));
    }
}
