-- A function's routes from the deploy's functions_config (docs/functions.md, "Routes"), as the
-- JSON that deploys/function_config.cpp keeps: {"routes": [{"pattern", "methods",
-- "prefer_static"}], "excluded_routes": [{"pattern"}]}; '' when the function has none.
ALTER TABLE deploy_functions ADD COLUMN config TEXT NOT NULL DEFAULT '';
