//! The public API beyond extraction: entities, registrable domains, actionable IPs,
//! defang/refang, the `streamer ioc` record and enrichment.

use serde_json::json;
use streamer_ioc::*;
use streamer_model::{Platform, Post};

#[test]
fn registry_is_embedded_whole() {
    // 16,539 data rows in the shipped snapshot; domain names are unique.
    assert_eq!(registry_len(), 16_539);
}

#[test]
fn gov_domains_and_their_subdomains_map_to_entities() {
    let e = lookup_entity("austintexas.gov").expect("in the registry");
    assert_eq!(e.domain, "austintexas.gov");
    assert_eq!(e.name.as_deref(), Some("City of Austin"));
    assert_eq!(e.kind, "City");
    assert_eq!(e.state.as_deref(), Some("TX"));
    assert_eq!(e.city.as_deref(), Some("Austin"));
    assert_eq!(e.security_contact.as_deref(), Some("csirt@austintexas.gov"));
    assert!(e.is_sltt());

    let sub = lookup_entity("WWW.Mail.AustinTexas.GOV.").expect("subdomain");
    assert_eq!(sub.domain, "austintexas.gov");
    assert_eq!(
        lookup_entity("www.austintexas[.]gov")
            .map(|e| e.domain)
            .as_deref(),
        Some("austintexas.gov")
    );
}

#[test]
fn federal_types_report_as_federal_and_are_not_sltt() {
    for (host, name) in [
        ("cisa.gov", "Department of Homeland Security"),
        ("www.senate.gov", "United States Senate"),
        ("itis.gov", "Smithsonian Institution"),
    ] {
        let e = lookup_entity(host).expect(host);
        assert_eq!(e.kind, "Federal", "{host}");
        assert_eq!(e.name.as_deref(), Some(name));
        assert!(!e.is_sltt());
    }
}

#[test]
fn blank_security_contact_is_none_and_tribal_type_kept() {
    let e = lookup_entity("29palmsbomi-nsn.gov").expect("tribal row");
    assert_eq!(e.kind, "Tribal");
    assert_eq!(e.security_contact, None);
}

#[test]
fn lookalikes_and_unregistered_gov_names_have_no_entity() {
    assert_eq!(lookup_entity("austintexas.gov.evil.ms"), None);
    assert_eq!(lookup_entity("county.gov.evil.ms"), None);
    assert_eq!(lookup_entity("austintexas.gov.com"), None);
    assert_eq!(lookup_entity("no-such-place-zzz.gov"), None);
    assert_eq!(lookup_entity("gov"), None);
    assert_eq!(lookup_entity(""), None);
}

#[test]
fn state_patterns_are_attributed_heuristically() {
    let cases = [
        ("www.state.tx.us", "state.tx.us", "State or territory", "TX"),
        ("dir.state.ny.us", "state.ny.us", "State or territory", "NY"),
        (
            "austinisd.k12.tx.us",
            "austinisd.k12.tx.us",
            "School district",
            "TX",
        ),
        (
            "www.lausd.k12.ca.us",
            "lausd.k12.ca.us",
            "School district",
            "CA",
        ),
        ("ci.austin.tx.us", "ci.austin.tx.us", "City", "TX"),
        ("www.ci.austin.tx.us", "ci.austin.tx.us", "City", "TX"),
        ("co.travis.tx.us", "co.travis.tx.us", "County", "TX"),
        ("mail.co.travis.tx.us", "co.travis.tx.us", "County", "TX"),
        ("austin.tx.us", "austin.tx.us", "City", "TX"),
        (
            "water.dst.co.us",
            "water.dst.co.us",
            "Special district",
            "CO",
        ),
        ("www.state.pr.us", "state.pr.us", "State or territory", "PR"),
    ];
    for (host, domain, kind, state) in cases {
        let e = lookup_entity(host).unwrap_or_else(|| panic!("{host}"));
        assert_eq!(
            (e.domain.as_str(), e.kind.as_str(), e.state.as_deref()),
            (domain, kind, Some(state)),
            "{host}"
        );
        assert_eq!(e.name, None, "pattern matches invent no names");
        assert!(e.is_sltt());
    }
    for host in [
        "state.zz.us",
        "tx.us",
        "foo.pvt.k12.tx.us",
        "lib.tx.us",
        "x.lib.tx.us",
        "state.tx.us.evil.com",
        "nic.us",
    ] {
        assert_eq!(lookup_entity(host), None, "{host}");
    }
}

#[test]
fn entities_are_deduplicated_by_domain_in_first_seen_order() {
    let es = entities_for([
        "www.austintexas.gov",
        "evil.com",
        "cisa.gov",
        "austintexas.gov",
        "ci.austin.tx.us",
    ]);
    let domains: Vec<&str> = es.iter().map(|e| e.domain.as_str()).collect();
    assert_eq!(domains, ["austintexas.gov", "cisa.gov", "ci.austin.tx.us"]);
}

#[test]
fn registrable_domains_follow_the_psl() {
    assert_eq!(
        registrable_domain("county.gov.evil.ms").as_deref(),
        Some("evil.ms")
    );
    assert_eq!(
        registrable_domain("a.b.evil.co.uk").as_deref(),
        Some("evil.co.uk")
    );
    assert_eq!(
        registrable_domain("WWW.Example.COM.").as_deref(),
        Some("example.com")
    );
    assert_eq!(
        registrable_domain("foo.github.io").as_deref(),
        Some("foo.github.io")
    );
    // The PSL makes `tx.us` the suffix here; entity attribution has its own `.us` heuristics.
    assert_eq!(
        registrable_domain("www.ci.austin.tx.us").as_deref(),
        Some("austin.tx.us")
    );
    assert_eq!(
        registrable_domain("evil[.]com").as_deref(),
        Some("evil.com")
    );
    assert_eq!(registrable_domain("co.uk"), None);
    assert_eq!(registrable_domain("readme.txt"), None);
    assert_eq!(registrable_domain("localhost"), None);
}

#[test]
fn actionable_ips_exclude_private_and_reserved_space() {
    for ip in [
        "8.8.8.8",
        "185.220.101.4",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "1.1.1[.]1",
    ] {
        assert!(is_actionable_ip(ip), "{ip}");
    }
    for ip in [
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.7",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12::1",
        "2001:db8::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "not an ip",
        "",
    ] {
        assert!(!is_actionable_ip(ip), "{ip}");
    }
    assert!(is_actionable_ip("172.32.0.1"));
    assert!(is_actionable_ip("100.128.0.1"));
}

#[test]
fn defang_makes_indicators_unclickable_and_refang_undoes_it() {
    assert_eq!(
        defang("https://evil.com/a.php"),
        "hxxps[://]evil[.]com/a.php"
    );
    assert_eq!(defang("http://1.2.3.4:80/x"), "hxxp[://]1[.]2[.]3[.]4:80/x");
    assert_eq!(defang("evil.com"), "evil[.]com");
    assert_eq!(defang("admin@county.gov"), "admin[@]county[.]gov");
    assert_eq!(defang("185.220.101.4"), "185[.]220[.]101[.]4");
    assert_eq!(defang("see evil.com. Then"), "see evil[.]com. Then");
    assert_eq!(defang("2001:db8::1"), "2001:db8::1");
    assert_eq!(defang(""), "");
    let once = defang("go to https://evil.com now");
    assert_eq!(defang(&once), once, "defang is idempotent");
    for s in [
        "https://evil.com/a.php?x=1",
        "evil.com",
        "admin@county.gov",
        "185.220.101.4",
        "ftp://a.b.org/c",
    ] {
        assert_eq!(refang(&defang(s)), s);
    }
    assert_eq!(refang("hXXps://evil[.]com[/]x"), "https://evil.com/x");
    assert_eq!(refang("nothing to do"), "nothing to do");
}

#[test]
fn ioc_record_has_the_contract_keys_and_entities() {
    let v = ioc_record("phish at hxxps://login.austintexas[.]gov[.]evil[.]ms and www.austintexas[.]gov, soc@cisa.gov");
    for key in [
        "urls", "domains", "ipv4", "ipv6", "md5", "sha1", "sha256", "cves", "emails", "btc",
        "entities",
    ] {
        assert!(v.get(key).is_some_and(|x| x.is_array()), "missing {key}");
    }
    assert_eq!(v.as_object().map(|o| o.len()), Some(11));
    assert_eq!(
        v["entities"],
        json!([
            {"domain": "austintexas.gov", "name": "City of Austin", "type": "City", "state": "TX"},
            {"domain": "cisa.gov", "name": "Department of Homeland Security", "type": "Federal", "state": "VA"}
        ])
    );
    let blank: serde_json::Value = serde_json::from_str(&ioc_record_json("")).expect("JSON");
    assert_eq!(blank["urls"], json!([]));
    assert_eq!(blank["entities"], json!([]));
}

#[test]
fn enrich_takes_iocs_from_text_and_hosts_from_links_too() {
    let mut post = Post::new(Platform::X, "1", "783214");
    post.text = "County hit; C2 at evil[.]ms, see https://news.example.com/story".into();
    post.urls = vec![
        "https://WWW.AustinTexas.gov:443/alerts".into(),
        "https://news.example.com/story".into(),
        "http://[2001:db8::1]/x".into(),
    ];
    let en = enrich(&post);
    assert_eq!(en.iocs.domains, ["evil.ms", "news.example.com"]);
    assert_eq!(en.iocs.urls, ["https://news.example.com/story"]);
    assert_eq!(
        en.hosts,
        [
            "www.austintexas.gov",
            "news.example.com",
            "2001:db8::1",
            "evil.ms"
        ]
    );
    assert_eq!(en.entities.len(), 1);
    assert_eq!(en.entities[0].domain, "austintexas.gov");
    assert_eq!(
        url_host("hxxps://user@Evil[.]com:8443/x").as_deref(),
        Some("evil.com")
    );
    assert_eq!(url_host("no scheme"), None);
}
