-- 002_signing.sql - signed return paths ([signing], common/signing.h).
-- A message is suppressible when every envelope recipient is trusted: a
-- feedback-loop address, outside [signing] required_domains, or a valid
-- signed return path at the message's arrival time.  An event is
-- suppressible when its message is and, if the message was trusted only
-- through signed paths, its recipient is one of the addresses signed.
-- Events that are not suppressible are recorded but never reach the policy
-- (not at store time, not by reprocess).  Rows stored before this migration
-- keep the behaviour they had: suppressible.

ALTER TABLE messages ADD COLUMN suppressible boolean NOT NULL DEFAULT true;
ALTER TABLE events   ADD COLUMN suppressible boolean NOT NULL DEFAULT true;
CREATE INDEX messages_unsuppressible_idx ON messages (received_at) WHERE NOT suppressible;
