#!/usr/bin/env python3
"""Copy the accuracy corpus's messages out of git snapshots of their sources.

Usage: collect.py MIRROR_DIR OUT_DIR
MIRROR_DIR holds one bare git directory per source repository, named
OWNER+NAME/repo (as the snapshots this corpus was gathered from).  Each
source's files are copied to OUT_DIR/SOURCE/ with a SOURCE file naming the
repository, commit, paths and licence.  Multi-message mbox files (Exim's
test/mail) are split into one file per message.
"""
import os
import re
import subprocess
import sys

MAX_SIZE = 256 * 1024

SOURCES = {
    # name: (repo, licence, path regexes, split mbox: True, or a regex of the paths to split)
    "exim": ("Exim/exim", "GPL-2.0-or-later (src/LICENCE)", [r"^test/mail/[^/]+$"], True),
    "ruby-mail": ("mikel/mail", "MIT (MIT-LICENSE)", [r"^spec/fixtures/emails/.*\.eml$"], False),
    "talon": ("mailgun/talon", "Apache-2.0 (LICENSE)",
              [r"^tests/fixtures/(standard_replies|html_replies)/[^/]+\.eml$",
               r"^tests/fixtures/[^/]+\.eml$"], False),
    "mail-auth": ("stalwartlabs/mail-auth", "Apache-2.0 OR MIT (LICENSES/)", [r"^resources/arf/.*\.eml$"], False),
    "mail-parser-rs": ("stalwartlabs/mail-parser", "Apache-2.0 OR MIT (LICENSES/)", [r"^resources/eml/(legacy|rfc|thirdparty)/[^/]+\.eml$"], False),
    "haraka": ("haraka/Haraka", "MIT (LICENSE)", [r"^test/mail_specimen/.*\.txt$"], False),
    "flanker": ("mailgun/flanker", "Apache-2.0 (LICENSE)", [r"^tests/fixtures/messages/(bounce/|complaints/|spam/)?[^/]+\.eml$"], False),
    "enmime": ("jhillyerd/enmime", "MIT (LICENSE)", [r"^testdata/(mail|low-quality)/[^/]+\.raw$", r"^dsn/testdata/[^/]+\.raw$"], False),
    "go-gmime": ("sendgrid/go-gmime", "MIT (LICENSE)", [r"^gmime/(fixtures|test_data)/[^/]+\.eml$"], False),
    "spamscope": ("SpamScope/mail-parser", "Apache-2.0 (LICENSE.txt)", [r"^tests/mails/mail_[^/]+$"], False),
    "stalwart": ("stalwartlabs/mail-server", "AGPL-3.0-only (LICENSES/AGPL-3.0-only.txt)",
                 [r"^tests/resources/(smtp/(dsn|messages|reports|milter)|jmap/email_[a-z]+)/[^/]+\.eml$"], False),
    "mimekit": ("jstedfast/MimeKit", "MIT (LICENSE)", [r"^UnitTests/TestData/messages/[^/]+\.(?:txt|eml)$"], False),
    "froide": ("okfde/froide", "MIT (LICENSE.txt)",
               [r"^froide/bounce/testdata/[^/]+\.txt$", r"^froide/foirequest/tests/testdata/test_mail_[^/]+\.txt$"], False),
    # Bounces and the like from SpamAssassin's bug tracker, kept as rule tests
    # (each rule's folder: messages, and a .cf saying which rules must hit).
    "spamassassin": ("apache/spamassassin", "Apache-2.0 (LICENSE)",
                     [r"^t\.rules/[A-Z0-9_]+/[^/.]+(-[0-9]+)?$"], False),
    "mw-bounce": ("wikimedia/mediawiki-extensions-BounceHandler", "GPL-2.0-or-later (COPYING, extension.json)",
                  [r"^tests/phpunit/bounce_emails/[^/]+$"], False),
    "mail-manager": ("LoneStarInternet/mail_manager", "MIT (MIT-LICENSE, LICENSE.txt)",
                     [r"^spec/test_app/spec/support/files/[^/]+\.(?:txt|eml)$"], False),
    "mailparser": ("nodemailer/mailparser", "MIT (LICENSE)", [r"^test/fixtures/[^/]+\.eml$"], False),
    "php-mime": ("php-mime-mail-parser/php-mime-mail-parser", "MIT (LICENSE)",
                 [r"^tests/mails/[^/.][^/]*$"], False),
    "rspamd": ("rspamd/rspamd", "Apache-2.0 (LICENSE.md)", [r"^test/functional/messages/[^/]+\.eml$"], False),
    # OTRS's mail samples as OTOBO, its fork, carries them: OTRS/otrs's own
    # snapshot is over the size the snapshots can have.
    "otrs": ("RotherOSS/otobo", "GPL-3.0-or-later (LICENSE; OTRS/otrs: GPL-3.0-or-later)",
             [r"^scripts/test/sample/(EmailParser|PostMaster|PGP|SMIME)/[^/]+\.(?:box|eml)$"], False),
    # lorem-ipsum is a text without headers, no message.
    "rt": ("bestpractical/rt", "GPL-2.0-or-later (COPYING, README.md)",
           [r"^t/data/emails/(?!lorem-ipsum$)"], False),
    "abuseio": ("AbuseIO/AbuseIO", "GPL-2.0 (composer.json, readme.md)",
                [r"^extra/notifier-samples/feedback-loop/[^/]+\.eml$"], False),
    "dada-mail": ("justingit/dada-mail", "GPL-2.0-or-later (LICENSE, README.pod)",
                  [r"^app/dada/t/corpus/email_messages/[^/]+\.(?:eml|txt)$"], False),
    "espocrm": ("espocrm/espocrm", "AGPL-3.0-or-later (LICENSE.txt, composer.json)",
                [r"^tests/unit/testData/Core/Mail/[^/]+\.eml$"], False),
    # Zammad's mail-import suite (.box files; the .yml beside each is Zammad's parse).
    "zammad": ("zammad/zammad", "AGPL-3.0-only (LICENSE)", [r"^test/data/mail/[^/]+\.box$"], False),
    # DMARC failure (ARF auth-failure) reports, aggregate and TLS reports as
    # parsedmarc is tested with.
    "parsedmarc": ("domainaware/parsedmarc", "Apache-2.0 (LICENSE)",
                   [r"^samples/(aggregate|failure|forensic|smtp_tls)/[^/]+\.eml$"], False),
    # The messages MailKit's IMAP tests fetch (jwz's Netscape mail test set).
    "mailkit": ("jstedfast/MailKit", "MIT (LICENSE)",
                [r"^UnitTests/Net/Imap/Resources/common/message\.[0-9]+\.msg$"], False),
    # mime4j's MIME test messages, MIME-tools' among them.
    "mime4j": ("apache/james-mime4j", "Apache-2.0 (LICENSE)",
               [r"^core/src/test/resources/(mimetools-)?testmsgs/[^/]+\.msg$"], False),
    # Hunnysoft's MUA samples and the parser's issue reports.
    "mail-mime-parser": ("zbateson/mail-mime-parser", "BSD-2-Clause (LICENSE)",
                         [r"^tests/_data/emails/[^/]+\.txt$"], False),
    "webklex-imap": ("Webklex/php-imap", "MIT (LICENSE, LICENSE.md)", [r"^tests/messages/[^/]+\.eml$"], False),
    "laminas-mail": ("laminas/laminas-mail", "BSD-3-Clause (LICENSE.md)", [r"^test/_files/[^/]+\.eml$"], False),
    # DMARC aggregate and TLS reports as providers send them, and parser test mail.
    "mox": ("mjl-/mox", "MIT (LICENSE.MIT)",
            [r"^testdata/(dmarc-reports|tlsreports|junk|message)/[^/]+\.eml$"], False),
    # Salmon's (Lamson's) test messages; its "spam" is an mbox.
    "salmon": ("moggers87/salmon", "GPL-3.0 (LICENSE)", [r"^tests/data/([^/]+\.msg|spam)$"], r"/spam$"),
    # Bounce handlers' test mail, less the files Sisimai's set-of-emails took.
    "node-baunsu": ("ardiesaeidi/node-baunsu", "MIT (package.json, README.md)", [r"^tests/emails/[^/]+\.txt$"], False),
    "deliveryboy": ("choonkeat/deliveryboy", "MIT (MIT-LICENSE)",
                    [r"^spec/fixtures/(bounce_cases/)?(?!relay_failed\.|connection_timed_out\.)[^/]+\.eml$"], False),
    "tmail-bouncer": ("tangofoxtrot/tmail_bouncer", "MIT (LICENSE)",
                      [r"^test/fixtures/(?!out_of_office\.)[^/]+\.eml$"], False),
    "courriel": ("houseabsolute/Courriel", "Artistic-2.0 (LICENSE)",
                 [r"^t/data/stress-test/(?!mbox_mime_virus-mcafee-virusscan\.|mbox_mime_auto-error-msg\.)"
                  r"[^/]+\.(?:txt|eml)$"], False),
}

# Sources collected after the others: a message that another source (or an
# earlier file of the same one) already holds, line endings aside, is left out,
# so that no message is on both sides of the split.
DEDUPE = {"parsedmarc", "mailkit", "mime4j", "mail-mime-parser", "webklex-imap", "laminas-mail", "mox",
          "salmon", "node-baunsu", "deliveryboy", "tmail-bouncer", "courriel"}

# How many leading folders of a path the copied file's name leaves out.
KEEP = {"spamassassin": 1, "zammad": 3, "parsedmarc": 1, "mailkit": 5, "mime4j": 4,
        "mail-mime-parser": 3, "webklex-imap": 2, "laminas-mail": 2, "mox": 1, "salmon": 2,
        "node-baunsu": 2, "deliveryboy": 2, "tmail-bouncer": 2, "courriel": 3}

NOTES = {
    "otrs": "OTRS/otrs scripts/test/sample's messages, copied from OTOBO (the OTRS 6 fork), "
            "which rewrote their otrs.org addresses as otobo.org and X-OTRS- headers as X-OTOBO- "
            "and dropped their X-CVS lines",
}


def git(gitdir, *args):
    return subprocess.run(["git", "--git-dir", gitdir] + list(args), check=True,
                          capture_output=True).stdout


def split_mbox(data):
    """Messages of an mbox file, each without its 'From ' separator line."""
    out, cur = [], None
    prev_blank = True
    for line in data.split(b"\n"):
        if line.startswith(b"From ") and prev_blank and re.match(rb"^From \S+ ", line):
            if cur is not None:
                out.append(b"\n".join(cur).rstrip(b"\n") + b"\n")
            cur = []
        elif cur is not None:
            cur.append(line)
        prev_blank = line.strip() == b""
    if cur is not None:
        out.append(b"\n".join(cur).rstrip(b"\n") + b"\n")
    return out


def norm(data):
    return data.replace(b"\r\n", b"\n").strip()


def held(out, skip):
    """Normalised contents of the messages OUT_DIR's sources other than skip hold."""
    seen = set()
    for src in os.listdir(out):
        d = os.path.join(out, src)
        if src == skip or not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if f.endswith(".eml"):
                with open(os.path.join(d, f), "rb") as fh:
                    seen.add(norm(fh.read()))
    return seen


def main():
    mirror, out = sys.argv[1], sys.argv[2]
    only = set(sys.argv[3:])
    for name, (repo, lic, pats, mbox) in SOURCES.items():
        if only and name not in only:
            continue
        gitdir = os.path.join(mirror, repo.replace("/", "+"), "repo")
        commit = git(gitdir, "rev-parse", "HEAD").decode().strip()
        paths = [p for p in git(gitdir, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
                 if any(re.search(x, p) for x in pats)]
        dest = os.path.join(out, name)
        os.makedirs(dest, exist_ok=True)
        n = 0
        seen = held(out, name) if name in DEDUPE else None
        for p in sorted(paths):
            try:
                data = git(gitdir, "show", "HEAD:" + p)
            except subprocess.CalledProcessError:
                continue    # a large file the snapshot lists but does not hold
            if len(data) > MAX_SIZE:
                continue    # keeps the repository small; no bounce is this large
            if seen is not None:
                if norm(data) in seen:
                    continue
                seen.add(norm(data))
            # SpamAssassin's rule folders reuse file names: keep the folder.
            keep = KEEP.get(name, 2)
            base = re.sub(r"[^A-Za-z0-9._-]", "_", p.split("/", keep)[-1].replace("/", "_"))
            base = re.sub(r"\.box$", ".eml", base)
            # mbox: True splits every file, a regex the paths it matches
            if mbox is True or (mbox and re.search(mbox, p)):
                for i, m in enumerate(split_mbox(data)):
                    if seen is not None:
                        if norm(m) in seen:
                            continue
                        seen.add(norm(m))
                    with open(os.path.join(dest, "%s.%d.eml" % (base, i)), "wb") as f:
                        f.write(m)
                    n += 1
            else:
                with open(os.path.join(dest, base if base.endswith(".eml") else base + ".eml"), "wb") as f:
                    f.write(data)
                n += 1
        with open(os.path.join(dest, "SOURCE"), "w") as f:
            f.write("repository: https://github.com/%s\ncommit: %s\nlicence: %s\n"
                    "paths: %s\nmessages: %d\n" % (repo, commit, lic, " | ".join(pats), n))
            if name in NOTES:
                f.write("note: %s\n" % NOTES[name])
        print(name, n)


if __name__ == "__main__":
    main()
