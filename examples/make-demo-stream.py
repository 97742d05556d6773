#!/usr/bin/env python3
"""Writes examples/demo-stream.jsonl: a recorded stream mixing X v2, Mastodon and Bluesky.

Every post in it is SYNTHETIC, written for the Streamer demo; no real account or post is
quoted. Each payload carries "_synthetic": true. The domains of targeted entities are real
entries of CISA's .gov registry (public data), the attacker infrastructure is invented.
Run: python3 examples/make-demo-stream.py > examples/demo-stream.jsonl
"""
import json

lines = []
SYN = {"_synthetic": True}


def x_post(pid, uid, username, name, text, urls=(), source="Twitter Web App", created="2026-11-30T14:02:11.000Z",
           lang="en", place=None, coords=None, retweet_of=None, includes_tweets=(), hashtags=(), edit_history=None,
           followers=1200, user_created="2023-02-11T09:00:00.000Z"):
    data = {"id": pid, "text": text, "author_id": uid, "created_at": created, "lang": lang, "source": source,
            "edit_history_tweet_ids": edit_history or [pid], "entities": {}}
    if urls:
        data["entities"]["urls"] = []
        for short, expanded in urls:
            start = text.find(short)
            data["entities"]["urls"].append({"start": start, "end": start + len(short), "url": short,
                                             "expanded_url": expanded, "display_url": expanded.split("://")[1][:24]})
    if hashtags:
        data["entities"]["hashtags"] = [{"start": text.find("#" + h), "end": text.find("#" + h) + len(h) + 1, "tag": h}
                                        for h in hashtags]
    includes = {"users": [{"id": uid, "username": username, "name": name, "created_at": user_created,
                           "public_metrics": {"followers_count": followers, "following_count": 10,
                                              "tweet_count": 400, "listed_count": 1}}]}
    if place or coords:
        data["geo"] = {}
        if place:
            data["geo"]["place_id"] = place["id"]
            includes["places"] = [place]
        if coords:
            data["geo"]["coordinates"] = {"type": "Point", "coordinates": coords}
    if retweet_of:
        data["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
    if includes_tweets:
        includes["tweets"] = list(includes_tweets)
    return dict(SYN, data=data, includes=includes, matching_rules=[{"id": "1800000000000000001", "tag": "streamer:pack-1"}])


springfield = {"id": "3b77caf94bfc81fe", "full_name": "Springfield, IL", "name": "Springfield", "country": "United States",
               "country_code": "US", "place_type": "city",
               "geo": {"type": "Feature", "bbox": [-89.77, 39.69, -89.57, 39.87], "properties": {}}}

# 1. DDoS announcement against a city site (hacktivist style), with a hashtag.
lines.append(x_post("1862000000000000001", "1500000000000000099", "dd0s_brigade_demo", "DDoS Brigade (demo)",
                    "Tango down! The City of Austin portal https://t.co/aaaa1 is offline. Next target: Travis County #DDoS",
                    urls=[("https://t.co/aaaa1", "https://www.austintexas.gov/department/it")], hashtags=["DDoS"],
                    source="Twitter for Android", place=springfield))
# 2. Ransomware leak-site claim against a school district, defanged IOCs.
lines.append(x_post("1862000000000000002", "1500000000000000042", "ransom_watch_demo", "Ransom Watch (demo)",
                    "LockBit claims Ashland School District (ashlandorschools[.]gov). Leak portal hxxp://lockbit-demo-leaks[.]xyz/ashland "
                    "sample md5 5d41402abc4b2a76b9719d911017c592, exfil from 185.220.101[.]4",
                    created="2026-11-30T14:05:40.000Z"))
# 3. The same text reposted by two other accounts (merged into one email).
for i, (uid, user) in enumerate([("1500000000000000043", "mirror_one_demo"), ("1500000000000000044", "mirror_two_demo")]):
    lines.append(x_post("18620000000000000%02d" % (10 + i), uid, user, user,
                        "LockBit claims Ashland School District (ashlandorschools[.]gov). Leak portal hxxp://lockbit-demo-leaks[.]xyz/ashland "
                        "sample md5 5d41402abc4b2a76b9719d911017c592, exfil from 185.220.101[.]4",
                        created="2026-11-30T14:06:0%d.000Z" % i))
# 4. A watched actor (by stable id) posting with no keyword at all.
lines.append(x_post("1862000000000000003", "1500000000000000001", "new_handle_demo", "Known Actor (demo)",
                    "Quiet week. Preparing something for the weekend.", created="2026-11-30T14:07:00.000Z",
                    coords=[-97.7431, 30.2672]))
# 5. A benign post: no alert.
lines.append(x_post("1862000000000000004", "1500000000000000077", "civic_fan_demo", "Civic Fan (demo)",
                    "Great turnout at the county fair this weekend, thanks to all the volunteers!"))
# 6. A defacement claim with an XSS payload in it: shown as text everywhere.
lines.append(x_post("1862000000000000005", "1500000000000000055", "defacer_demo", "<img src=x onerror=alert(1)>",
                    "Hacked by D3m0 <script>alert('xss')</script> — chicago.gov subdomain defaced: hxxps://permits.chicago[.]gov/index.html",
                    created="2026-11-30T14:09:12.000Z"))
# 7. Data leak with several indicator kinds.
lines.append(x_post("1862000000000000006", "1500000000000000066", "leakbase_demo", "Leak Base (demo)",
                    "Fresh dump: 41k Baltimore City employees records for sale. Contact admin(at)leakbase-demo[.]top, "
                    "BTC 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa. CVE-2024-3400 exploited in the wild on city VPNs.",
                    created="2026-11-30T14:10:30.000Z"))
# 8. A retweet of the DDoS post (text comes from the original).
orig = lines[0]["data"]
lines.append(x_post("1862000000000000007", "1500000000000000088", "rt_bot_demo", "RT bot (demo)",
                    "RT @dd0s_brigade_demo: Tango down! The City of Austin portal https://t.co/aaaa1 is off…",
                    retweet_of=orig["id"], includes_tweets=[orig], created="2026-11-30T14:11:00.000Z"))
# 9. An edit of post 4 (X delivers edits as new ids with the edit history).
lines.append(x_post("1862000000000000008", "1500000000000000001", "new_handle_demo", "Known Actor (demo)",
                    "Quiet week. Preparing a DDoS for the weekend against Travis County.",
                    created="2026-11-30T14:12:00.000Z", edit_history=["1862000000000000003", "1862000000000000008"]))
# 10. A malformed line (counted and skipped).
lines.append("this line is not JSON {")
# 11. An X operational-disconnect line (a stream notice, not a post).
lines.append({"errors": [{"title": "operational-disconnect", "disconnect_type": "OperationalDisconnect",
                          "detail": "This stream has been disconnected for operational reasons.",
                          "type": "https://api.twitter.com/2/problems/operational-disconnect"}]})


def masto_status(sid, acct_id, username, content, spoiler="", created="2026-11-30T14:20:00.000Z", edited=None, tags=()):
    return dict(SYN, **{
        "id": sid, "uri": "https://infosec.exchange/users/%s/statuses/%s" % (username, sid),
        "url": "https://infosec.exchange/@%s/%s" % (username, sid), "created_at": created, "edited_at": edited,
        "content": content, "spoiler_text": spoiler, "visibility": "public", "language": "en", "sensitive": bool(spoiler),
        "in_reply_to_id": None, "in_reply_to_account_id": None, "reblog": None,
        "application": {"name": "Ivory for iOS", "website": None},
        "account": {"id": acct_id, "username": username, "acct": username, "display_name": username + " (demo)",
                    "url": "https://infosec.exchange/@" + username, "created_at": "2022-11-07T00:00:00.000Z",
                    "followers_count": 880, "following_count": 20, "statuses_count": 3000},
        "media_attachments": [], "mentions": [],
        "tags": [{"name": t, "url": "https://infosec.exchange/tags/" + t} for t in tags], "emojis": [], "card": None, "poll": None})


m1 = masto_status("113500000000000001", "109876", "threatintel_demo",
                  "<p>Ransomware gang <a href=\"https://infosec.exchange/tags/akira\" class=\"mention hashtag\" rel=\"tag\">#<span>Akira</span></a> "
                  "lists Cherokee County, GA (cherokeecountyga.gov) on its leak site &amp; posts 12 GB sample.</p>"
                  "<p>IOC: <a href=\"https://akira-demo-c2.example.net/upload\" rel=\"nofollow noopener\" target=\"_blank\">"
                  "<span class=\"invisible\">https://</span><span class=\"ellipsis\">akira-demo-c2.example.net/up</span>"
                  "<span class=\"invisible\">load</span></a></p>", spoiler="ransomware, local gov", tags=["akira"])
lines.append(dict(SYN, stream=["public"], event="update", payload=json.dumps(m1)))
m1e = dict(m1, content=m1["content"].replace("12 GB", "120 GB") + "<p>Update: county confirms a ransomware incident.</p>",
           edited_at="2026-11-30T14:25:00.000Z")
lines.append(dict(SYN, stream=["public"], event="status.update", payload=json.dumps(m1e)))
m2 = masto_status("113500000000000002", "109877", "noise_demo", "<p>Does anyone have a good sourdough recipe?</p>")
lines.append(dict(SYN, stream=["public"], event="update", payload=json.dumps(m2)))
# SSE framing: an event line, then its data line.
m3 = masto_status("113500000000000003", "109878", "sse_demo",
                  "<p>Claimed DDoS on the city of Chicago 311 site by <a href=\"https://infosec.exchange/@noname\" class=\"u-url mention\">@<span>noname</span></a> crew.</p>")
lines.append("event: update")
lines.append("data: " + json.dumps(m3))
lines.append(dict(SYN, stream=["public"], event="delete", payload="113500000000000002"))


def bsky_post(did, rkey, text, facets=(), embed=None, langs=("en",), time_us=1764512000000000, reply=None):
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-30T14:30:00.000Z", "langs": list(langs)}
    if facets:
        record["facets"] = list(facets)
    if embed:
        record["embed"] = embed
    if reply:
        record["reply"] = reply
    return dict(SYN, did=did, time_us=time_us, kind="commit",
                commit={"rev": "3lbdemo" + rkey, "operation": "create", "collection": "app.bsky.feed.post",
                        "rkey": rkey, "record": record, "cid": "bafyreidemo" + rkey})


def link_facet(text, visible, uri):
    start = len(text.encode()[:text.encode().find(visible.encode())])
    return {"index": {"byteStart": start, "byteEnd": start + len(visible.encode())},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]}


t = "Défacement confirmé 🚨 the Baltimore City water portal shows a hacktivist banner: baltimorecity.gov/wat..."
lines.append(bsky_post("did:plc:demoreporter2abc", "3lbdemo0001", t,
                       facets=[link_facet(t, "baltimorecity.gov/wat...", "https://baltimorecity.gov/water-billing/defaced-page")],
                       time_us=1764512000000001))
lines.append(bsky_post("did:plc:demoactor7x3k2q", "3lbdemo0002", "new server, who dis", time_us=1764512000000002))
lines.append(dict(SYN, did="did:plc:demoactor7x3k2q", time_us=1764512000000003, kind="identity",
                  identity={"did": "did:plc:demoactor7x3k2q", "handle": "renamed-actor.bsky.social", "seq": 1, "time": "2026-11-30T14:31:00.000Z"}))
lines.append(dict(SYN, did="did:plc:demolikes", time_us=1764512000000004, kind="commit",
                  commit={"rev": "3lbx", "operation": "create", "collection": "app.bsky.feed.like", "rkey": "3lbx",
                          "record": {"$type": "app.bsky.feed.like", "createdAt": "2026-11-30T14:31:00.000Z"}, "cid": "bafy"}))

for l in lines:
    print(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False))
