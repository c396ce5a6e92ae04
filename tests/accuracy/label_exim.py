#!/usr/bin/env python3
"""Propose labels for tests/corpus/exim from Exim's own text and DSN fields.

A labelling aid, not a parser: it prints one JSON line per message with the
recipients Exim's delivery-status part (or its failure list) names, the
failure text it gives each, and a proposed reason.  Every proposal was read
and corrected by hand before it went into expected.jsonl (labels.py holds
the corrections).
"""
import email
import json
import os
import re
import sys

REASONS = [
    # (pattern on the recipient's failure text, reason) - Sisimai's vocabulary
    (r"unrouteable|all relevant mx records point to non-existent|all host address lookups failed permanently|domain .*does not exist|host lookup did not complete", "hostunknown"),
    (r"retry time(out exceeded| not reached for any host after a long failure)|delayed|has not yet been delivered", "expired"),
    (r"mailbox is full|quota|over quota", "mailboxfull"),
    (r"unknown user|no such user|user unknown|recipient not ok|unknown local.part|not a valid|does not exist", "userunknown"),
    (r"too many \"received\" headers|mail loop", "networkerror"),
    (r"message too big|size limit|message_size_limit", "mesgtoobig"),
    (r"child process of|pipe|returned \(|local delivery failed|transport .*failed", "mailererror"),
    (r"after initial connection|after helo|after ehlo|go away", "blocked"),
    (r"after mail from", "rejected"),
]


def body_text(m):
    for p in m.walk():
        if p.get_content_type() == "text/plain":
            return p.get_payload(decode=True).decode("utf-8", "replace")
    return ""


def dsn_records(m):
    recs = []
    for p in m.walk():
        if p.get_content_type() == "message/delivery-status":
            for sub in p.get_payload()[1:] if isinstance(p.get_payload(), list) else []:
                fr = sub.get("Final-Recipient", "")
                recs.append({"recipient": fr.split(";", 1)[-1].strip().strip("<>"),
                             "status": sub.get("Status", ""), "action": sub.get("Action", ""),
                             "diag": sub.get("Diagnostic-Code", "")})
    return recs


def failure_blocks(text):
    """{address-line: detail text} from Exim's indented failure list."""
    out, cur = {}, None
    started = False
    for line in text.splitlines():
        if re.search(r"address\(es\) failed:|following addresses:|following address\(es\)|^The following address", line):
            started = True
            continue
        if not started and not re.match(r"^  \S+@\S+$", line):
            continue
        started = True
        if line.startswith("--") or line.startswith("------"):
            break
        if re.match(r"^  \S", line) and not line.startswith("  host "):
            cur = line.strip()
            out[cur] = ""
        elif cur is not None and line.strip():
            out[cur] += " " + line.strip()
    return out


def main(d):
    for f in sorted(os.listdir(d)):
        if not f.endswith(".eml"):
            continue
        m = email.message_from_bytes(open(os.path.join(d, f), "rb").read())
        subj = str(m.get("Subject", ""))
        text = body_text(m)
        recs = dsn_records(m)
        blocks = failure_blocks(text)
        props = []
        for r in recs or [{"recipient": k, "status": "", "action": "", "diag": ""} for k in blocks]:
            # the block that names the address, or says it was generated from it
            rl = r["recipient"].lower()
            detail = " ".join(v for k, v in blocks.items() if rl in k.lower() or
                              re.search(r"generated (from|by) " + re.escape(rl) + r"\b", v.lower()))
            detail = (detail + " " + r["diag"]).strip()
            reason = "undefined"
            for pat, rs in REASONS:
                if re.search(pat, detail + " " + (subj if "Warning" in subj else ""), re.I):
                    reason = rs
                    break
            props.append({"recipient": r["recipient"], "status": r["status"], "action": r["action"],
                          "reason": reason, "detail": detail[:160]})
        print(json.dumps({"file": f, "subject": subj[:60], "from": str(m.get("From", ""))[:40],
                          "proposed": props}))


main(sys.argv[1] if len(sys.argv) > 1 else "tests/corpus/exim")
