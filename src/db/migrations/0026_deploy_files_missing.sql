-- Deploy speed (bench/README.md, "Deploy speed work"). The files of a deploy still to upload,
-- by SHA-1: an upload marks its file's rows with one index seek, and "anything left?" is one
-- seek, however many files the deploy has. Partial, so it holds only the pending rows. Without
-- it, SQLite marked an upload's rows through deploy_files_pending (deploy_id, sha256), visiting
-- every pending row of the deploy (10,000 files: 50 million row visits per deploy), and
-- PostgreSQL answered "anything left?" with a sequential scan of all deploys' files.
CREATE INDEX deploy_files_missing ON deploy_files(deploy_id, sha1) WHERE sha256 IS NULL;
