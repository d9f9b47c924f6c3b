-- The local secret store (PATCHBAY_SECRETS=local, the embedded default).
-- Values are encrypted with XChaCha20-Poly1305 under a key kept outside the
-- database (a key file in the data dir, or PATCHBAY_SECRET_KEY); the full
-- name is bound as associated data, so a value copied to another row does
-- not decrypt. Nothing here is readable without the key.
CREATE TABLE secrets (
    name       TEXT   PRIMARY KEY, -- full path: /{prefix}/{team}/{provider}/{KEY}
    version    BIGINT NOT NULL,    -- 1 on create, +1 on every write, as SSM counts
    key_id     TEXT   NOT NULL,    -- which key encrypted it (a digest of the key, never the key)
    nonce      TEXT   NOT NULL,    -- base64, 24 random bytes per write
    ciphertext TEXT   NOT NULL,    -- base64, ciphertext and tag
    updated_at BIGINT NOT NULL
);
-- Key rotation finds the values still under a retired key.
CREATE INDEX secrets_key_id ON secrets (key_id);
