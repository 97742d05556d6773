#!/usr/bin/env python3
"""Writes the benchmark corpus: synthetic social-media posts, one per line, seeded so that every
run (and every extractor) reads the same bytes.

Mix, modelled on a keyword-filtered threat stream: about 80% ordinary posts with no indicator
(prose, hashtags, mentions, ordinary links, some non-Latin scripts and emoji), 20% threat posts
carrying defanged and plain indicators of every kind.

Usage: make_corpus.py [OUT] [POSTS]   (defaults: crates/ioc/benches/data/corpus.txt, 8000)
"""
import random
import sys

R = random.Random(20240501)
WORDS = ("the a county city school district ransomware attack outage update services systems "
         "residents council meeting today tomorrow report officials said network phishing email "
         "warning patch vulnerability exploited data breach notice public safety water utility "
         "payments portal offline restored investigating police department library closed board "
         "election office voters results posted week after before during hackers claimed leak "
         "files stolen statement cyber incident response team working with partners federal state "
         "local agencies advise users reset passwords monitor accounts suspicious activity").split()
NONLATIN = ["市役所がランサムウェア攻撃を受けました", "Атака на городские службы", "¡Ataque al condado!",
            "病院のシステムが停止", "Angriff auf die Stadtverwaltung", "🚨🚨 breaking 🚨", "🙏 stay safe"]
TAGS = ["#ransomware", "#infosec", "#cybersecurity", "#LockBit", "#phishing", "#DFIR", "#ThreatIntel", "#K12"]
MENTIONS = ["@cisagov", "@msisac", "@alice.bsky.social", "@soc@infosec.exchange", "@countyIT"]
LINKS = ["https://news.example.com/2024/05/county-outage", "https://www.example.org/story?id=123",
         "https://bsky.app/profile/x/post/3k", "https://infosec.exchange/@someone/1123"]
TLDS = ["com", "net", "org", "xyz", "top", "ru", "info", "online", "ms", "co.uk", "gov"]


def hexs(n):
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def host():
    labels = ["".join(R.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(R.randint(3, 10)))
              for _ in range(R.randint(1, 3))]
    return ".".join(labels) + "." + R.choice(TLDS)


def dots(s):
    return s.replace(".", R.choice(["[.]", "[.]", "(.)", "[dot]", "."]))


def ip():
    return ".".join(str(R.randint(1, 254)) for _ in range(4))


def prose(n):
    return " ".join(R.choice(WORDS) for _ in range(n)).capitalize() + R.choice([".", "!", "?", "..."])


def ioc():
    k = R.randint(0, 11)
    if k == 0:
        return R.choice(["hxxps://", "hXXp://", "https[:]//", "hxxp[://]"]) + dots(host()) + "/" + R.choice(["login", "a.php", "gate", "x/y"])
    if k == 1:
        return dots(host())
    if k == 2:
        return dots(ip()) + R.choice(["", ":443", ":8080"])
    if k == 3:
        return hexs(64)
    if k == 4:
        return "md5: " + hexs(32)
    if k == 5:
        return "sha1 " + hexs(40)
    if k == 6:
        return "CVE-%d-%d" % (R.randint(2015, 2025), R.randint(1000, 50000))
    if k == 7:
        return R.choice(["admin", "hr", "support"]) + R.choice(["[@]", "(at)", "@"]) + dots(host())
    if k == 8:
        return R.choice(["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"])
    if k == 9:
        return "2001:db8:%x::%x" % (R.randint(1, 65535), R.randint(1, 65535))
    if k == 10:
        return "https://" + host() + "/" + hexs(8)
    return dots(R.choice(["vpn", "mail", "portal"]) + "." + host())


def post():
    parts = [prose(R.randint(6, 25))]
    if R.random() < 0.2:
        for _ in range(R.randint(1, 4)):
            parts.append(R.choice(["IOC:", "C2", "seen", "block", "-", ""]) + " " + ioc())
        parts.append(prose(R.randint(3, 10)))
    if R.random() < 0.3:
        parts.append(R.choice(TAGS))
    if R.random() < 0.2:
        parts.append(R.choice(MENTIONS))
    if R.random() < 0.25:
        parts.append(R.choice(LINKS))
    if R.random() < 0.1:
        parts.append(R.choice(NONLATIN))
    return " ".join(parts)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "crates/ioc/benches/data/corpus.txt"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(post() + "\n")


if __name__ == "__main__":
    main()
