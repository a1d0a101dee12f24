-- deploy_files' secondary indexes that no query uses: every statement on the table names its
-- deploy (the primary key's prefix, or deploy_files_missing for the files still to upload), and
-- the garbage collector's mark reads every row anyway. Each index was one more B-tree written
-- per file row, and the two keyed by random digests grew cold in the page cache: a one-file
-- redeploy copies its base's 10,000 rows (DeployService::SetFilesRelative), and these made up
-- most of that copy's cost.
DROP INDEX deploy_files_sha1;
DROP INDEX deploy_files_sha256;
DROP INDEX deploy_files_pending;
