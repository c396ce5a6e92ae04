-- 005_provider.sql - the mailbox provider a complaint came from.
-- Filled by the store from the report (store/provider.c): the verified
-- DKIM d= of the report when known, else the domain of the report's From,
-- its envelope sender, a known User-Agent or the Reporting-MTA, reduced to
-- the registered domain ("fbl.mail.yahoo.com" -> "yahoo.com").  Complaints
-- stored before this migration get their envelope sender's domain,
-- reduced the same simple way (the last two labels).

ALTER TABLE events ADD COLUMN provider text;
CREATE INDEX events_provider_idx ON events (provider, occurred_at) WHERE provider IS NOT NULL;

UPDATE events e
   SET provider = substring(lower(split_part(m.mail_from, '@', 2)) FROM '([^.]+\.[^.]+)$')
  FROM messages m
 WHERE m.id = e.message_id AND e.class = 'complaint' AND e.provider IS NULL
   AND m.mail_from LIKE '%@%';
