-- A random id written with each file list a deploy gets (SetFiles, SetFilesRelative), in the
-- transaction that writes its rows. The process that wrote a relative list keeps its changed
-- and deleted paths under this id, and patches the base's manifest with them when the deploy is
-- processed, instead of reading every row (deploy_relative.cpp): the id tells it that the rows
-- are still the ones it wrote, even when another process set a list since.
ALTER TABLE deploys ADD COLUMN file_list_id TEXT NOT NULL DEFAULT '';
