//! The surge detector: synthetic series (pure), and surges raised through the pipeline from
//! the stored hourly counters.

mod analytics_support;

use analytics_support::*;
use streamer::analytics::{baseline_at, hour_of, surges_in, SpikeParams};

/// Deterministic noise in `0..n` (a linear congruential generator).
struct Noise(u64);

impl Noise {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const WEEK: usize = 168;

#[test]
fn quiet_burst_quiet_flags_only_the_bursts() {
    let mut noise = Noise(7);
    let mut series: Vec<u64> = (0..5 * WEEK).map(|_| noise.next(4)).collect();
    // One burst in the first week (only the previous day is known), one in the fifth.
    series[100] = 40;
    series[700] = 40;
    let p = SpikeParams::default();
    assert_eq!(surges_in(&series, &p), vec![100, 700]);
    let b = baseline_at(&series, 700, &p).unwrap();
    assert!(b.weekly && b.samples == 4 && b.median <= 3.0, "{b:?}");
    let b = baseline_at(&series, 100, &p).unwrap();
    assert!(!b.weekly && b.samples == 24, "{b:?}");
    // Too little history: nothing is flagged, whatever the count.
    let mut young = vec![0u64; 5];
    young.push(100);
    assert!(surges_in(&young, &p).is_empty());
}

/// Six weeks of office-hours activity (weekdays 9–17 busy, nights and weekends quiet),
/// starting on a Monday at midnight.
fn office_weeks(weeks: usize, seed: u64) -> Vec<u64> {
    let mut noise = Noise(seed);
    (0..weeks * WEEK)
        .map(|t| {
            let day = (t / 24) % 7;
            let hour = t % 24;
            if day < 5 && (9..17).contains(&hour) {
                20 + noise.next(16)
            } else {
                noise.next(3)
            }
        })
        .collect()
}

#[test]
fn a_weekly_cycle_raises_no_false_alarm_and_monday_is_not_compared_with_sunday() {
    let p = SpikeParams::default();
    for seed in [1, 2, 3, 4, 5] {
        let series = office_weeks(6, seed);
        let flagged: Vec<usize> = surges_in(&series, &p)
            .into_iter()
            .filter(|&t| t >= WEEK)
            .collect();
        assert!(
            flagged.is_empty(),
            "seed {seed}: false alarms at {flagged:?}"
        );
    }
    let series = office_weeks(6, 9);
    // Monday 09:00 of week 3, after a quiet Sunday: compared with the Mondays before it.
    let monday = 2 * WEEK + 9;
    assert!(series[monday - 10] < 3 && series[monday] >= 20);
    let b = baseline_at(&series, monday, &p).unwrap();
    assert!(b.weekly && b.median >= 20.0, "{b:?}");
    assert!(series[monday] < b.threshold);
}

#[test]
fn an_attack_on_a_quiet_sunday_night_stands_out_of_the_weekly_cycle() {
    let p = SpikeParams::default();
    let mut series = office_weeks(6, 11);
    let sunday_3am = 4 * WEEK + 6 * 24 + 3;
    series[sunday_3am] = 25;
    // A busy Monday with 35 (the top of its usual range) is not an attack.
    let monday = 5 * WEEK + 10;
    series[monday] = 35;
    let flagged: Vec<usize> = surges_in(&series, &p)
        .into_iter()
        .filter(|&t| t >= WEEK)
        .collect();
    assert_eq!(flagged, vec![sunday_3am]);
}

fn seed_counts(env: &Env, rule: &str, hour: &str, counts: &[(i64, i64)], first_offset: i64) {
    let conn = env.db();
    let start = streamer::analytics::hour_start(hour).unwrap();
    let at = |off: i64| hour_of(start + jiff::SignedDuration::from_hours(off));
    conn.execute(
        "INSERT INTO analytics_meta (key, value) VALUES ('first_hour', ?1)",
        [at(first_offset)],
    )
    .unwrap();
    for &(off, n) in counts {
        conn.execute(
            "INSERT INTO hourly_counts (dim, key, hour, count) VALUES ('rule', ?1, ?2, ?3)",
            rusqlite::params![rule, at(off), n],
        )
        .unwrap();
    }
}

const RULES: &str = "[[rules]]\nid = \"ransom\"\nquery = \"ransomware\"\nseverity = \"high\"\n";

#[test]
fn a_burst_in_the_current_hour_raises_one_surge_alert_through_every_sink() {
    let env = Env::new(RULES);
    // Create the database, then give the rule a day of history at one alert per hour.
    env.replay(&[]);
    let created = minutes_ago(1);
    let hour = hour_of(created.parse().unwrap());
    let day: Vec<(i64, i64)> = (1..=24).map(|h| (-h, 1)).collect();
    seed_counts(&env, "ransom", &hour, &day, -24);

    let posts: Vec<String> = (0..14)
        .map(|i| {
            x_post(
                &format!("{}", 5000 + i),
                &format!("{}", 100 + i),
                &format!("user{i}"),
                &format!("ransomware wave post {i}"),
                &created,
            )
        })
        .collect();
    env.replay(&posts);
    let surges = env.records_of("surge");
    assert_eq!(surges.len(), 1, "{surges:#?}");
    let s = &surges[0];
    assert_eq!(s["rules"][0]["matched"][0]["kind"], "rule");
    assert_eq!(s["rules"][0]["matched"][0]["value"], "ransom");
    assert_eq!(s["rules"][0]["severity"], "high");
    let text = s["post"]["text"].as_str().unwrap();
    assert!(
        text.contains("10 alerts") && text.contains("previous 24 hours"),
        "{text}"
    );
    let conn = env.db();
    let (count, threshold): (i64, i64) = conn
        .query_row(
            "SELECT count, threshold FROM surges WHERE key = 'ransom'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, threshold), (10, 10));
    // More of the same hour: still one surge.
    let more: Vec<String> = (0..3)
        .map(|i| {
            x_post(
                &format!("{}", 6000 + i),
                "77",
                "late",
                "ransomware late",
                &created,
            )
        })
        .collect();
    env.replay(&more);
    assert_eq!(env.records_of("surge").len(), 1);
    let emls = std::fs::read_dir(env.path("outbox")).unwrap().count();
    assert!(emls >= 1);
}

#[test]
fn the_stored_baseline_is_the_same_hour_of_previous_weeks() {
    let env = Env::new(RULES);
    env.replay(&[]);
    let created = minutes_ago(1);
    let hour = hour_of(created.parse().unwrap());
    // This hour is busy every week (about 20), the hour before it was quiet.
    let weeks: Vec<(i64, i64)> = (1..=4)
        .map(|w| (-168 * w, 18 + w))
        .chain([(-1, 0)])
        .collect();
    seed_counts(&env, "ransom", &hour, &weeks, -5 * 168);
    let posts: Vec<String> = (0..25)
        .map(|i| {
            x_post(
                &format!("{}", 7000 + i),
                "88",
                "weekly",
                &format!("ransomware weekly {i}"),
                &created,
            )
        })
        .collect();
    env.replay(&posts);
    assert!(
        env.records_of("surge").is_empty(),
        "25 in an hour that usually has about 20"
    );
    let config = env.config();
    drop(config);
    let conn = env.db();
    let b = streamer::analytics::stored_baseline(
        &conn,
        "rule",
        "ransom",
        &hour,
        &SpikeParams::default(),
    )
    .unwrap()
    .unwrap();
    assert!(b.weekly && b.samples == 4 && b.median == 20.5, "{b:?}");
}
