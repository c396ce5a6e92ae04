-- 003_raw_lz4.sql - raw messages compressed with lz4 instead of pglz.
-- The raw report is the largest value written for each message, and pglz
-- was the costliest single function of PostgreSQL's work under
-- make bench-store (about 5% of its CPU); lz4 compresses text several times
-- faster for a slightly larger result.  Only values written from now on
-- are affected; stored rows are not rewritten.

ALTER TABLE messages ALTER COLUMN raw SET COMPRESSION lz4;
