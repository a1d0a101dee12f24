-- Finding a deploy's files still to upload is an index seek, not a scan of all its files.
CREATE INDEX deploy_files_pending ON deploy_files(deploy_id, sha256);
