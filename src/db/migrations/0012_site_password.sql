-- Site-wide password protection (docs/edge.md, "Password-protected sites"). The password is
-- kept only as an Argon2id hash ('' when the site has none). `password_scope` is 'all' (every
-- deploy, production included) or 'non_production' (deploy previews, branch deploys and deploy
-- permalinks; the site's own address stays public).
ALTER TABLE sites ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE sites ADD COLUMN password_scope TEXT NOT NULL DEFAULT 'all';
